"""Bulk data: many calls, structures, dossiers in every state, reviews, awards and payments.

`seed_bulk(dossiers=100_000, seed=1)` builds a realistic volume for load tests and for trying the
instruction and steering pages at scale. Everything is drawn from `random.Random(seed)`, so a seed
gives the same data on the same database. It is additive: structures, accounts and references
never collide with what the database already holds (demo data, earlier runs), the reference and
agreement counters (`ReferenceCounter`) are moved past the numbers given, and each call's envelope
counters (`committed_amount`, `laureate_count`) grow by exactly the grants created, within the
envelope and the target.

Rows are written table by table, never through the per-dossier services: ids are reserved up
front, rows are plain tuples, and PostgreSQL receives them by COPY (other databases by
`executemany`). Staff accounts and calls, a handful of rows, do go through the services.
"""

import io
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import luhn

from accounts.models import Role, User
from accounts.services import user_set_role
from applications.models import (
    Application,
    Assignment,
    BudgetYear,
    Call,
    Criterion,
    EligibilityAnswer,
    EligibilityCheck,
    Member,
    ReferenceCounter,
    Score,
    StatusChange,
    Wave,
)
from core.formatting import format_money
from fabriques.models import (
    Activity,
    Departement,
    LegalCategory,
    Organisation,
    OrganisationMembership,
    Region,
    TiersLieu,
)
from fabriques.services import instructor_scope_set
from grants.models import Agreement, Grant, Report, ReportKind, Tranche
from grants.services.agreements import NUMBER_PREFIX as AGREEMENT_PREFIX
from grants.services.envelope import add_years, split_yearly

S = Application.Status
T = Tranche.Status
A = Agreement.Status

CURRENT_CALL_SLUG = "fabriques-de-territoires"
APPLICANT_DOMAIN = "porteurs.example"
STAFF_DOMAIN = "services.example"
ZERO = Decimal("0")
THOUSAND = 1000

# --- word lists -------------------------------------------------------------------------------

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Inès", "Sarah", "Julie", "Claire", "Lucie", "Emma", "Anne",
    "Nadia", "Sophie", "Marion", "Élise", "Hugo", "Lucas", "Thomas", "Nicolas", "Julien", "Antoine",
    "Mehdi", "Karim", "Pierre", "Louis", "Paul", "Yann", "Olivier", "Marc", "Samuel", "Jean", "Rémi",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
    "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier",
    "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand",
    "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
    "Abadie", "Carrère", "Estrade", "Le Gall", "Kerjean", "Benali", "Haddad", "Nguyen", "Da Silva", "Ferrand",
)  # fmt: skip
COMMUNE_WORDS = (
    "Saint-Martin", "Villeneuve", "Montfort", "Beaumont", "Châteauneuf", "Fontaine", "Belleville",
    "Roche", "Pontarlier", "Bellegarde", "Vauclair", "Mirande", "Valmont", "Clairefontaine", "Haute-Rive",
    "Bois-Joli", "Pré-Vert", "Sainte-Colombe", "Montrevel", "Val-d'Argent", "Les Essarts", "Le Breuil",
)  # fmt: skip
PLACE_WORDS = (
    "La Ruche", "La Fabrique", "L'Atelier", "Le Hangar", "La Filature", "La Grange", "Le Quai",
    "La Passerelle", "Le Moulin", "La Coopérative", "La Gare", "L'Usine", "Le Lavoir", "La Verrière",
    "La Forge", "Le Relais", "La Halle", "Le Phare", "La Cabane", "Le Préau", "La Tannerie", "Le Chai",
)  # fmt: skip
PROJECT_PHRASES = (
    "lieu ressource des tiers-lieux du territoire",
    "fabrique numérique et solidaire",
    "tiers-lieu rural de services et de création",
    "fabrique de territoire au cœur du quartier",
    "atelier partagé et espace de travail",
    "maison des initiatives locales",
    "tiers-lieu nourricier et culturel",
    "campus rural des savoir-faire",
)
JOB_TITLES = (
    "Président",
    "Présidente",
    "Directrice",
    "Directeur",
    "Gérante",
    "Gérant",
    "Maire",
    "Coordinatrice",
)
PARTNER_ROLES = (
    "Animation de la communauté et des ateliers",
    "Médiation numérique et formation des publics",
    "Accompagnement des porteurs de projet",
    "Mise à disposition de locaux et d'équipements",
    "Programmation culturelle et événements",
)
SECTION_TEXTS: dict[str, tuple[str, ...]] = {
    "services": (
        "Coworking, ateliers partagés, salles de réunion et permanences d'accompagnement.",
        "Fablab, repair café, formations au numérique et espace de travail partagé.",
        "Espace France services, médiation numérique, ateliers pour les familles.",
    ),
    "community_governance": (
        "Une association d'usagers et un comité des partenaires se réunissent chaque trimestre.",
        "Une SCIC associe les salariés, les usagers, la commune et les entreprises du territoire.",
    ),
    "partnerships": (
        "La commune, l'intercommunalité, le département et les associations locales.",
        "Les chambres consulaires, la mission locale et les autres tiers-lieux du département.",
    ),
    "resource_role": (
        "Accueil et accompagnement des porteurs de tiers-lieux du département, outils partagés.",
        "Animation du réseau départemental des tiers-lieux et prêt de matériel.",
    ),
    "digital_offer": (
        "Médiation numérique, accès aux équipements, formation aux outils de fabrication.",
        "Conseillers numériques, ateliers de découverte et accompagnement des démarches en ligne.",
    ),
    "territorial_need": (
        "Peu de lieux d'accompagnement dans ce bassin de vie, éloigné des grandes villes.",
        "Un quartier prioritaire sans lieu de rencontre ni d'accès au numérique.",
    ),
    "economic_model": (
        "Adhésions, locations d'espaces, prestations de formation et cofinancements locaux.",
        "Recettes propres en hausse sur trois ans ; la subvention consolide un emploi d'animation.",
    ),
}
REFUSAL_REASONS = (
    "Le modèle économique ne montre pas comment le lieu couvrira ses charges après trois ans.",
    "Le rôle de lieu ressource pour les autres tiers-lieux du département reste à construire.",
    "La gouvernance du projet ne repose pas encore sur un collectif identifié.",
    "Le département compte déjà une fabrique de territoire proche, avec une offre comparable.",
)
CLOSE_REASONS = (
    "Compléments non fournis dans le délai indiqué.",
    "Le porteur a fait savoir que le projet ne se fera pas sous cette forme.",
    "Dossier en double d'une autre candidature de la même structure.",
)
WITHDRAW_REASONS = ("Projet reporté à l'an prochain.", "Le lieu a changé de structure gestionnaire.")
CORRECTION_POINTS = (
    "Compléments demandés : budget prévisionnel détaillé sur trois ans.",
    "Compléments demandés : statuts à jour et liste des dirigeants.",
    "Compléments demandés : lettres de soutien des partenaires.",
)
SCORE_COMMENTS = ("Bien documenté.", "À consolider.", "Convaincant.", "Insuffisamment précisé.")

# Legal categories and how often they apply (INSEE codes, families in fabriques.LegalCategory).
CATEGORY_WEIGHTS = (
    ("9220", 55), ("5710", 12), ("5499", 5), ("7210", 10), ("7346", 7),
    ("7410", 3), ("6220", 2), ("7354", 3), ("9300", 3),
)  # fmt: skip
ZONE_WEIGHTS = (("qpv", 22), ("near_qpv", 10), ("rural", 50), ("other", 13), ("", 5))

# What becomes of a dossier, by call: (outcome, weight). "review" dossiers are decided by score.
PAST_FATES = (("draft", 8), ("withdrawn_draft", 2), ("withdrawn", 3), ("closed_early", 3), ("review", 84))
CURRENT_FATES = (
    ("draft", 22), ("withdrawn_draft", 2), ("withdrawn", 2), ("submitted", 15),
    ("in_review", 22), ("corrections", 6), ("review", 31),
)  # fmt: skip
# Share of the decided dossiers that may be awarded (the envelope and the target cap it too), and
# the share of the target a call still open may reach.
AWARD_SHARE = 0.25
CURRENT_TARGET_SHARE = 0.4


# --- summary ----------------------------------------------------------------------------------


@dataclass
class CallSummary:
    slug: str
    dossiers: int
    laureates: int
    committed: Decimal
    envelope: Decimal
    target: int


@dataclass
class BulkSummary:
    """What a run created, and how long it took."""

    dossiers: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    calls: list[CallSummary] = field(default_factory=list)

    @property
    def grants(self) -> int:
        return self.rows.get("grants", 0)

    def lines(self) -> list[str]:
        lines = [
            _("Lignes : %(rows)s")
            % {"rows": ", ".join(f"{name} {count}" for name, count in self.rows.items())},
            _("États : %(states)s")
            % {"states": ", ".join(f"{name} {count}" for name, count in sorted(self.by_status.items()))},
        ]
        for call in self.calls:
            lines.append(
                _(
                    "%(slug)s : %(dossiers)d dossiers, %(laureates)d lauréats sur %(target)d, "
                    "%(committed)s engagés sur %(envelope)s"
                )
                % {
                    "slug": call.slug,
                    "dossiers": call.dossiers,
                    "laureates": call.laureates,
                    "target": call.target,
                    "committed": format_money(call.committed),
                    "envelope": format_money(call.envelope),
                }
            )
        return lines


# --- writing rows -----------------------------------------------------------------------------


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            value = value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class RowWriter:
    """Insert plain tuples into a model's table: COPY on PostgreSQL, executemany elsewhere."""

    CHUNK = 50_000

    def __init__(self) -> None:
        self.postgres = connection.vendor == "postgresql"
        self.counts: Counter[str] = Counter()

    def reserve_ids(self, model: type[models.Model], count: int) -> int:
        """The first of `count` consecutive free ids of the model's table (the block is taken)."""
        table = model._meta.db_table
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {quote(table)}")  # noqa: S608
            start = int(cursor.fetchone()[0]) + 1
            if self.postgres and count:
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
                sequence = cursor.fetchone()[0]
                cursor.execute("SELECT nextval(%s)", [sequence])
                start = max(start, int(cursor.fetchone()[0]))
                cursor.execute("SELECT setval(%s, %s)", [sequence, start + count - 1])
        return start

    def insert(self, model: type[models.Model], names: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """`names` are attribute names (`application_id`); each row a tuple in that order."""
        self.counts[model._meta.db_table] += len(rows)
        if not rows:
            return
        fields = [cast("models.Field[Any, Any]", model._meta.get_field(name)) for name in names]
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        columns = ", ".join(quote(str(f.column)) for f in fields)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), self.CHUNK):
                chunk = rows[start : start + self.CHUNK]
                if self.postgres:
                    buffer = io.StringIO()
                    buffer.writelines("\t".join(map(_copy_text, row)) + "\n" for row in chunk)
                    buffer.seek(0)
                    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)
                else:
                    marks = ", ".join(["%s"] * len(fields))
                    prepared = [
                        [f.get_db_prep_save(value, connection) for f, value in zip(fields, row, strict=True)]
                        for row in chunk
                    ]
                    cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", prepared)  # noqa: S608


# --- helpers ----------------------------------------------------------------------------------


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, int]]) -> str:
    return rng.choices([value for value, _w in pairs], weights=[weight for _v, weight in pairs])[0]


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment in [start, end] (start itself when end is not after it), to the second."""
    span = (end - start).total_seconds()
    if span <= 0:
        return start
    return start + timedelta(seconds=int(rng.random() * span))


def _after(
    rng: random.Random, moment: datetime, low_days: float, high_days: float, cap: datetime
) -> datetime:
    """A moment some days after `moment`, never after `cap` nor before `moment`."""
    candidate = moment + timedelta(days=rng.uniform(low_days, high_days))
    if candidate <= cap:
        return candidate.replace(microsecond=0)
    return _between(rng, moment, cap) if cap > moment else moment


def _ascii(text: str) -> str:
    table = str.maketrans("éèêëàâäîïôöûüùçÉÈÀÂÎÔÛÇ' ", "eeeeaaaiioouuucEEAAIOUC--")
    return "".join(ch for ch in text.translate(table).lower() if ch.isalnum() or ch in "-")


def _siret_for(siren_body: str, nic: str) -> str:
    siren = siren_body + luhn.calc_check_digit(siren_body)
    base = siren + nic
    return base + luhn.calc_check_digit(base)


def _commune(rng: random.Random, departement: str) -> tuple[str, str, str]:
    """(INSEE commune code, postal code, name) plausible for the département."""
    name = rng.choice(COMMUNE_WORDS)
    if len(departement) == 3:  # overseas: 971..976
        return f"{departement}{rng.randint(1, 34):02d}", f"{departement}{rng.randint(0, 9)}0", name
    postal_head = "20" if departement in ("2A", "2B") else departement
    return f"{departement}{rng.randint(1, 600):03d}", f"{postal_head}{rng.randint(0, 99):02d}0", name


def _yearly_request(
    rng: random.Random, years: int, cap: Decimal, low: Decimal, high: Decimal
) -> list[Decimal]:
    """What a complete dossier asks: a total within the bounds, each year within the cap."""
    cap_k, low_k, high_k = int(cap) // THOUSAND, int(low) // THOUSAND, int(high) // THOUSAND
    high_k = min(high_k, cap_k * years)
    total_k = rng.randrange(low_k, high_k + 1, 5) if high_k >= low_k else high_k
    base, extra = divmod(total_k, years)
    parts = [base + (1 if index < extra else 0) for index in range(years)]
    if years > 1 and rng.random() < 0.4 and parts[0] + 5 <= cap_k and parts[-1] >= 5:
        parts[0] += 5
        parts[-1] -= 5
    return [Decimal(part * THOUSAND) for part in parts]


# --- the plan of a call -----------------------------------------------------------------------


@dataclass
class CallPlan:
    call: Call
    current: bool
    starts: datetime
    ends: datetime
    waves: list[tuple[int, datetime]]
    criteria: list[tuple[int, int, int]]  # id, weight, scale
    checks: list[int]
    dossiers: int = 0
    laureates: int = 0
    committed: Decimal = ZERO


def _default_grid() -> tuple[list[tuple[str, str, int, int, bool]], list[str]]:
    """The grid of the programme's first call, copied to the calls created here."""
    source = Call.objects.filter(slug=CURRENT_CALL_SLUG).first()
    criteria = (
        [
            (c.label, c.help_text, c.weight, c.scale_max, c.comment_required)
            for c in Criterion.objects.filter(call=source).order_by("position", "pk")
        ]
        if source
        else []
    )
    checks = (
        [c.label for c in EligibilityCheck.objects.filter(call=source).order_by("position", "pk")]
        if source
        else []
    )
    if not criteria:
        criteria = [
            ("Gouvernance par un collectif identifié", "", 20, 5, True),
            ("Réponse à un besoin du territoire", "", 30, 5, True),
            ("Viabilité du modèle économique", "", 25, 5, True),
            ("Rôle de lieu ressource pour les autres tiers-lieux", "", 25, 5, True),
        ]
    if not checks:
        checks = [
            "Le porteur est une personne morale existante (SIRET vérifié).",
            "Les pièces sont conformes.",
        ]
    return criteria, checks


def _past_call(year: int) -> Call:
    paris = timezone.get_default_timezone()
    slug = f"{CURRENT_CALL_SLUG}-{year}"
    call = Call.objects.filter(slug=slug).first()
    if call is not None:
        return call
    template = Call.objects.filter(slug=CURRENT_CALL_SLUG).first()
    call = Call(
        slug=slug,
        title=f"Fabriques de territoires {year}",
        description=(
            f"Appel à manifestation d'intérêt « Fabriques de territoires » de {year} : tiers-lieux "
            "structurants en quartier prioritaire ou en zone rurale, 75 000 € à 150 000 € sur trois ans."
        ),
        reference_prefix="FDT",
        status=Call.Status.CLOSED,
        opens_at=datetime(year, 1, 15, 9, 0, tzinfo=paris),
        closes_at=datetime(year, 12, 15, 23, 59, tzinfo=paris),
        envelope=Decimal("54000000.00"),
        target_count=360,
        min_award=Decimal("75000.00"),
        max_award=Decimal("150000.00"),
        max_per_year=Decimal("50000.00"),
        duration_years=3,
        fnt_bonus=Decimal("100000.00"),
        signatory_name=template.signatory_name if template else "Le directeur général de l'ANCT",
        signatory_title=template.signatory_title if template else "Pour le ministre, par délégation",
        grantor_siret=template.grantor_siret if template else "",
        grantor_representative=template.grantor_representative if template else "le directeur général",
        signature_place=template.signature_place if template else "Paris",
    )
    call.full_clean()
    call.save()
    for number, (month, day) in enumerate(((3, 31), (6, 30), (9, 30), (12, 15)), start=1):
        Wave.objects.create(
            call=call,
            number=number,
            name=f"Vague {number} – {year}",
            deadline=datetime(year, month, day, 23, 59, tzinfo=paris),
        )
    criteria, checks = _default_grid()
    Criterion.objects.bulk_create(
        [
            Criterion(
                call=call,
                label=label,
                help_text=help_text,
                weight=weight,
                scale_max=scale,
                comment_required=required,
                position=position,
            )
            for position, (label, help_text, weight, scale, required) in enumerate(criteria)
        ]
    )
    EligibilityCheck.objects.bulk_create(
        [EligibilityCheck(call=call, label=label, position=position) for position, label in enumerate(checks)]
    )
    return call


def _current_call(now: datetime) -> Call:
    call = Call.objects.filter(slug=CURRENT_CALL_SLUG).first()
    if call is not None and call.opens_at < now:
        return call
    # Without the programme's call (or before it opens), this year's call stands for it.
    return _past_call(now.year)


def _plans(calls: int, dossiers: int, now: datetime) -> list[CallPlan]:
    current = _current_call(now)
    chosen = [_past_call(now.year - offset) for offset in range(calls - 1, 0, -1)]
    chosen = [call for call in chosen if call.pk != current.pk] + [current]
    plans = []
    for call in chosen:
        locked = Call.objects.select_for_update().get(pk=call.pk)
        is_current = locked.pk == current.pk and locked.status == Call.Status.OPEN
        ends = min(locked.closes_at, now - timedelta(hours=1))
        plans.append(
            CallPlan(
                call=locked,
                current=is_current,
                starts=locked.opens_at,
                ends=ends,
                waves=list(
                    Wave.objects.filter(call=locked).order_by("deadline").values_list("id", "deadline")
                ),
                criteria=list(
                    Criterion.objects.filter(call=locked)
                    .order_by("position", "pk")
                    .values_list("id", "weight", "scale_max")
                ),
                checks=list(
                    EligibilityCheck.objects.filter(call=locked)
                    .order_by("position", "pk")
                    .values_list("id", flat=True)
                ),
            )
        )
    share, extra = divmod(dossiers, len(plans))
    for index, plan in enumerate(plans):
        plan.dossiers = share + (1 if index < extra else 0)
    return plans


# --- staff ------------------------------------------------------------------------------------


@dataclass
class Staff:
    by_region: dict[str, list[int]]
    admin: int


def _staff() -> Staff:
    """Two instructors per région and one programme admin, created once and reused by later runs."""
    by_region: dict[str, list[int]] = {}
    for index, region in enumerate(Region.objects.order_by("code")):
        ids = []
        for number in (1, 2):
            email = f"instruction.r{region.code}.{number}@{STAFF_DOMAIN}"
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email,
                    first_name=FIRST_NAMES[(index * 2 + number) % len(FIRST_NAMES)],
                    last_name=LAST_NAMES[(index * 3 + number) % len(LAST_NAMES)],
                    job_title=f"Chargé de mission tiers-lieux, {region.name}",
                    email_confirmed_at=timezone.now(),
                )
                user.set_unusable_password()
                user.save(update_fields=["password"])
                user_set_role(user=user, role=Role.INSTRUCTOR, actor=None)
                instructor_scope_set(instructor=user, regions=[region], actor=None)
            ids.append(user.pk)
        by_region[region.code] = ids
    email = f"pilotage@{STAFF_DOMAIN}"
    admin = User.objects.filter(email=email).first()
    if admin is None:
        admin = User.objects.create_user(
            email=email, first_name="Hélène", last_name="Castaing", email_confirmed_at=timezone.now()
        )
        admin.set_unusable_password()
        admin.save(update_fields=["password"])
        user_set_role(user=admin, role=Role.ADMIN, actor=None)
    return Staff(by_region=by_region, admin=admin.pk)


# --- applicants, structures and places ----------------------------------------------------------


@dataclass
class Pool:
    """The structures that apply: their département, places and legal representative."""

    departement: list[str] = field(default_factory=list)
    places: list[list[int]] = field(default_factory=list)
    representative: list[int] = field(default_factory=list)
    org_ids: list[int] = field(default_factory=list)


def _applicants(rng: random.Random, writer: RowWriter, count: int, now: datetime, password: str) -> Pool:
    departements = list(Departement.objects.order_by("code").values_list("code", flat=True))
    categories = dict(LegalCategory.objects.values_list("code", "family"))
    category_weights = [(code, weight) for code, weight in CATEGORY_WEIGHTS if code in categories]
    activities = list(Activity.objects.order_by("position").values_list("code", flat=True))
    group = Group.objects.get(name=Role.APPLICANT.value)

    users_count = max(1, int(count * 0.9))
    used_emails = set(
        User.objects.filter(email__endswith=f"@{APPLICANT_DOMAIN}").values_list("email", flat=True)
    )
    used_sirens = {
        siret[:9]
        for siret in Organisation.objects.filter(siret__startswith="8").values_list("siret", flat=True)
    }

    user_start = writer.reserve_ids(User, users_count)
    user_rows, names = [], []
    serial = 0
    for index in range(users_count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        while True:
            serial += 1
            email = f"{_ascii(first)}.{_ascii(last)}.{serial:06d}@{APPLICANT_DOMAIN}"
            if email not in used_emails:
                break
        joined = now - timedelta(days=rng.uniform(30, 6 * 365))
        user_rows.append(
            (user_start + index, email, first, last, "", "", True, False, False, joined, joined, password)
        )
        names.append((first, last))
    writer.insert(
        User,
        (
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "job_title",
            "is_active",
            "is_staff",
            "is_superuser",
            "email_confirmed_at",
            "date_joined",
            "password",
        ),
        user_rows,
    )
    writer.insert(
        User.groups.through, ("user_id", "group_id"), [(user_start + i, group.pk) for i in range(users_count)]
    )

    pool = Pool()
    org_start = writer.reserve_ids(Organisation, count)
    org_rows, member_rows = [], []
    # Every département has structures (and places): the first ones go round them all.
    weights = [rng.uniform(0.3, 3.0) for _ in departements]
    siren_serial = 0
    for index in range(count):
        departement = (
            departements[index] if index < len(departements) else rng.choices(departements, weights)[0]
        )
        code = _weighted(rng, category_weights)
        family = categories[code]
        while True:
            siren_serial += 1
            body = f"8{siren_serial:07d}"
            if body + luhn.calc_check_digit(body) not in used_sirens:
                break
        siret = _siret_for(body, f"{rng.randint(1, 40):04d}")
        commune_code, postal_code, commune_name = _commune(rng, departement)
        place_word = rng.choice(PLACE_WORDS)
        if family == "association":
            name = f"Association {place_word} de {commune_name}"
        elif family == "local_authority":
            name = (
                f"Commune de {commune_name}"
                if code == "7210"
                else f"Communauté de communes de {commune_name}"
            )
        elif family == "company":
            name = f"{place_word} {commune_name} {'SAS' if code == '5710' else 'SARL'}"
        else:
            name = f"{place_word} – groupement de {commune_name}"
        cooperative = (
            rng.choice(("scic", "scop", "cae")) if family == "company" and rng.random() < 0.4 else ""
        )
        rna = f"W{rng.randint(10**8, 10**9 - 1)}" if family == "association" else ""
        created = now - timedelta(days=rng.uniform(60, 3 * 365))
        org_rows.append(
            (
                org_start + index,
                name,
                siret,
                code,
                cooperative,
                rna,
                f"{rng.randint(1, 90)} rue de la République",
                postal_code,
                commune_code,
                commune_name,
                departement,
                rng.randint(1950, now.year - 1),
                rng.randint(0, 25),
                "",
                True,
                created,
                # Never looked up in the directory: no NAF code, not checked.
                "",
                "",
            )
        )
        pool.org_ids.append(org_start + index)
        pool.departement.append(departement)
        user_id = user_start + (index if index < users_count else rng.randrange(users_count))
        pool.representative.append(user_id)
        member_rows.append((org_start + index, user_id, rng.choice(JOB_TITLES), True, created))
        if rng.random() < 0.15:
            other = user_start + rng.randrange(users_count)
            if other != user_id:
                member_rows.append((org_start + index, other, "Chargée de mission", False, created))
    writer.insert(
        Organisation,
        (
            "id",
            "name",
            "siret",
            "legal_category_id",
            "cooperative_kind",
            "rna",
            "address",
            "postal_code",
            "commune_code",
            "commune_name",
            "departement_id",
            "year_created",
            "headcount",
            "website",
            "is_demo",
            "created_at",
            "naf_code",
            "siret_status",
        ),
        org_rows,
    )
    writer.insert(
        OrganisationMembership,
        ("organisation_id", "user_id", "job_title", "is_legal_representative", "created_at"),
        member_rows,
    )

    place_count = count + count // 5
    place_start = writer.reserve_ids(TiersLieu, place_count)
    place_rows, activity_rows = [], []
    for index in range(place_count):
        owner = index if index < count else rng.randrange(count)
        departement = pool.departement[owner]
        org_row = org_rows[owner]
        zone = _weighted(rng, ZONE_WEIGHTS)
        qpv = f"QP{departement:0>3}{rng.randint(1, 40):03d}" if zone in ("qpv", "near_qpv") else ""
        place_id = place_start + index
        place_rows.append(
            (
                place_id,
                f"{rng.choice(PLACE_WORDS)} ({org_row[9]})",
                org_row[0],
                org_row[6],
                org_row[7],
                org_row[8],
                org_row[9],
                departement,
                zone,
                qpv,
                rng.randint(2005, now.year),
                "",
                None,
                None,
                "applicant",
                "",
            )
        )
        while len(pool.places) <= owner:
            pool.places.append([])
        pool.places[owner].append(place_id)
        for activity in rng.sample(activities, k=min(len(activities), rng.randint(1, 3))):
            activity_rows.append((place_id, activity))
    writer.insert(
        TiersLieu,
        (
            "id",
            "name",
            "organisation_id",
            "address",
            "postal_code",
            "commune_code",
            "commune_name",
            "departement_id",
            "zone",
            "qpv_code",
            "year_opened",
            "website",
            "latitude",
            "longitude",
            "source",
            "source_id",
        ),
        place_rows,
    )
    writer.insert(TiersLieu.activities.through, ("tierslieu_id", "activity_id"), activity_rows)
    return pool


# --- dossiers ---------------------------------------------------------------------------------


@dataclass
class Dossier:
    """One dossier while it is drawn: what its rows need."""

    id: int
    plan: CallPlan
    lead: int
    kind: str
    title: str
    created: datetime
    asked: list[Decimal]
    complete: bool
    status: str = S.DRAFT
    submitted: datetime | None = None
    updated: datetime | None = None
    wave: int | None = None
    quality: float = 0.5
    score: Decimal | None = None
    spread: Decimal | None = None
    decider: int | None = None
    decided: datetime | None = None
    previous: int | None = None
    changes: list[tuple[str, str, int | None, str, datetime]] = field(default_factory=list)
    reference: str = ""


class Builder:
    """Draws every row of the dossiers of a run, then writes them table by table."""

    def __init__(
        self, rng: random.Random, writer: RowWriter, pool: Pool, staff: Staff, now: datetime
    ) -> None:
        self.rng, self.writer, self.pool, self.staff, self.now = rng, writer, pool, staff, now
        self.regions = dict(Departement.objects.values_list("code", "region_id"))
        self.dossiers: list[Dossier] = []
        self.last_refused: dict[int, int] = {}
        self.rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.grants: list[tuple[Dossier, Decimal, Decimal, list[Decimal]]] = []

    # One call after the other, in time order: a refused dossier may be taken up in a later call.
    def build(self, plans: list[CallPlan]) -> None:
        total = sum(plan.dossiers for plan in plans)
        next_id = self.writer.reserve_ids(Application, total)
        for plan in plans:
            drawn = []
            for _index in range(plan.dossiers):
                drawn.append(self._draw(next_id, plan))
                next_id += 1
            self._review_and_decide(plan, drawn)
            for dossier in drawn:
                if dossier.status == S.REFUSED:
                    self.last_refused[dossier.lead] = dossier.id
            self.dossiers.extend(drawn)

    def _draw(self, dossier_id: int, plan: CallPlan) -> Dossier:
        rng = self.rng
        lead = rng.randrange(len(self.pool.org_ids))
        call = plan.call
        created = _between(rng, plan.starts, plan.ends)
        fate = _weighted(rng, CURRENT_FATES if plan.current else PAST_FATES)
        complete = fate not in ("draft", "withdrawn_draft") or rng.random() < 0.3
        asked = (
            _yearly_request(rng, call.duration_years, call.max_per_year, call.min_award, call.max_award)
            if complete or rng.random() < 0.5
            else [ZERO] * call.duration_years
        )
        kind = Application.Kind.FNT if rng.random() < 0.18 else Application.Kind.FT
        place_name = rng.choice(PLACE_WORDS)
        dossier = Dossier(
            id=dossier_id,
            plan=plan,
            lead=lead,
            kind=kind,
            title=f"{place_name}, {rng.choice(PROJECT_PHRASES)}",
            created=created,
            asked=asked,
            complete=complete,
            quality=min(0.98, max(0.05, rng.gauss(0.58, 0.17))),
        )
        previous = self.last_refused.get(lead)
        if previous is not None and rng.random() < 0.5:
            dossier.previous = previous
        applicant = self.pool.representative[lead]
        moment = created
        if fate in ("draft", "withdrawn_draft"):
            if fate == "withdrawn_draft":
                moment = _after(rng, moment, 5, 90, self.now)
                dossier.changes.append(
                    (S.DRAFT, S.WITHDRAWN, applicant, rng.choice(WITHDRAW_REASONS), moment)
                )
                dossier.status = S.WITHDRAWN
            dossier.updated = moment
            return dossier
        moment = self._submit(dossier, moment, applicant)
        if fate == "submitted":
            return dossier
        if fate == "withdrawn":
            moment = _after(rng, moment, 2, 40, self.now)
            dossier.changes.append(
                (S.SUBMITTED, S.WITHDRAWN, applicant, rng.choice(WITHDRAW_REASONS), moment)
            )
            dossier.status, dossier.updated = S.WITHDRAWN, moment
            return dossier
        instructor = self._instructors(dossier)[0]
        if fate == "closed_early":
            moment = _after(rng, moment, 10, 60, self.now)
            dossier.changes.append((S.SUBMITTED, S.CLOSED, instructor, rng.choice(CLOSE_REASONS), moment))
            dossier.status, dossier.updated, dossier.decider, dossier.decided = (
                S.CLOSED,
                moment,
                instructor,
                moment,
            )
            return dossier
        moment = _after(rng, moment, 3, 30, self.now)
        dossier.changes.append((S.SUBMITTED, S.IN_REVIEW, instructor, "Instruction ouverte.", moment))
        dossier.status, dossier.updated = S.IN_REVIEW, moment
        if fate == "corrections" or rng.random() < 0.15:
            moment = _after(rng, moment, 5, 30, self.now)
            dossier.changes.append(
                (S.IN_REVIEW, S.CORRECTIONS, instructor, rng.choice(CORRECTION_POINTS), moment)
            )
            dossier.status, dossier.updated = S.CORRECTIONS, moment
            if fate == "corrections":
                return dossier
            if rng.random() < 0.12:
                moment = _after(rng, moment, 30, 60, self.now)
                dossier.changes.append((S.CORRECTIONS, S.CLOSED, instructor, CLOSE_REASONS[0], moment))
                dossier.status, dossier.updated, dossier.decider, dossier.decided = (
                    S.CLOSED,
                    moment,
                    instructor,
                    moment,
                )
                return dossier
            moment = self._submit(dossier, moment, applicant, source=S.CORRECTIONS)
            moment = _after(rng, moment, 1, 10, self.now)
            dossier.changes.append((S.SUBMITTED, S.IN_REVIEW, instructor, "Instruction ouverte.", moment))
            dossier.status, dossier.updated = S.IN_REVIEW, moment
        dossier.decided = _after(rng, moment, 20, 90, self.now) if fate == "review" else None
        return dossier

    def _submit(self, dossier: Dossier, moment: datetime, applicant: int, source: str = S.DRAFT) -> datetime:
        plan = dossier.plan
        cap = min(plan.ends, self.now)
        moment = _after(self.rng, moment, 0.5, 45, cap)
        dossier.changes.append((source, S.SUBMITTED, applicant, "", moment))
        dossier.status, dossier.submitted, dossier.updated = S.SUBMITTED, moment, moment
        dossier.wave = next((wave for wave, deadline in plan.waves if deadline >= moment), None)
        return moment

    def _instructors(self, dossier: Dossier) -> list[int]:
        departement = self.pool.departement[dossier.lead]
        return self.staff.by_region[self.regions[departement]]

    # --- review and decisions --------------------------------------------------------------------

    def _scores(self, dossier: Dossier, handed_in: bool) -> None:
        """Two assignments; scores handed in by one or both, the dossier's score as scores_save keeps it."""
        rng, plan = self.rng, dossier.plan
        instructors = self._instructors(dossier)
        assigned_at = next(at for _f, to, _a, _n, at in dossier.changes if to == S.IN_REVIEW)
        conflicted = len(instructors) > 1 and dossier.decided is None and rng.random() < 0.02
        totals = []
        for position, instructor in enumerate(instructors):
            assignment_id = len(self.rows["assignment"]) + self.assignment_start
            conflict = conflicted and position == 1
            submits = (
                handed_in
                and not conflict
                and (position == 0 or dossier.decided is not None or rng.random() < 0.6)
            )
            submitted_at = _after(rng, assigned_at, 2, 20, dossier.decided or self.now) if submits else None
            self.rows["assignment"].append(
                (
                    assignment_id,
                    dossier.id,
                    instructor,
                    instructor,
                    assigned_at,
                    conflict,
                    "Membre du conseil d'administration de la structure." if conflict else "",
                    assigned_at if conflict else None,
                    submitted_at,
                )
            )
            if not submits:
                continue
            weighted, weights = Decimal(0), 0
            for criterion_id, weight, scale in plan.criteria:
                value = max(0, min(scale, round(dossier.quality * scale + rng.gauss(0, 0.7))))
                self.rows["score"].append((assignment_id, criterion_id, value, rng.choice(SCORE_COMMENTS)))
                weighted += Decimal(value) / Decimal(scale) * weight
                weights += weight
            if weights:
                totals.append((weighted / weights * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
        if totals:
            dossier.score = (sum(totals, ZERO) / len(totals)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            dossier.spread = max(totals) - min(totals)
        dossier.decider = instructors[0]

    def _review_and_decide(self, plan: CallPlan, drawn: list[Dossier]) -> None:
        rng, call = self.rng, plan.call
        to_decide = []
        for dossier in drawn:
            if not any(to == S.IN_REVIEW for _f, to, _a, _n, _at in dossier.changes):
                continue
            handed_in = dossier.decided is not None or (dossier.status == S.IN_REVIEW and rng.random() < 0.6)
            self._scores(dossier, handed_in)
            if dossier.decided is not None and dossier.status == S.IN_REVIEW:
                to_decide.append(dossier)
        # Awards go to the best scores, within the target, the envelope and a share of the decided.
        to_decide.sort(key=lambda d: (-(d.score or ZERO), d.id))
        target = (
            call.target_count if not plan.current else max(1, int(call.target_count * CURRENT_TARGET_SHARE))
        )
        places_left = max(0, target - call.laureate_count)
        money_left = call.envelope - call.committed_amount
        awards_left = min(places_left, int(len(to_decide) * AWARD_SHARE) + (1 if to_decide else 0))
        for dossier in to_decide:
            instructor = dossier.decider
            assert dossier.decided is not None  # noqa: S101 (only dossiers with a decision date are here)
            checks_ok = True
            if awards_left > 0:
                total = sum(dossier.asked, ZERO)
                amount = (
                    total
                    if rng.random() < 0.6
                    else max(call.min_award, Decimal(int(total * Decimal("0.8")) // 5000 * 5000))
                )
                amount = min(max(amount, call.min_award), call.max_award)
                bonus = call.fnt_bonus if dossier.kind == Application.Kind.FNT else ZERO
                if amount + bonus <= money_left:
                    yearly = split_yearly(amount, call.duration_years, dossier.asked)
                    money_left -= amount + bonus
                    awards_left -= 1
                    plan.laureates += 1
                    plan.committed += amount + bonus
                    note = f"Subvention de {format_money(amount)} attribuée."
                    dossier.changes.append((S.IN_REVIEW, S.AWARDED, instructor, note, dossier.decided))
                    dossier.status, dossier.updated = S.AWARDED, dossier.decided
                    self.grants.append((dossier, amount, bonus, yearly))
                    self._eligibility(dossier, all_met=True)
                    continue
            if rng.random() < 0.92:
                reasons = "\n".join(rng.sample(REFUSAL_REASONS, k=rng.randint(1, 2)))
                dossier.changes.append((S.IN_REVIEW, S.REFUSED, instructor, reasons, dossier.decided))
                dossier.status = S.REFUSED
                checks_ok = rng.random() < 0.7
            else:
                dossier.changes.append(
                    (S.IN_REVIEW, S.CLOSED, instructor, rng.choice(CLOSE_REASONS), dossier.decided)
                )
                dossier.status = S.CLOSED
            dossier.updated = dossier.decided
            self._eligibility(dossier, all_met=checks_ok)
        for dossier in drawn:
            if dossier.status == S.IN_REVIEW:
                dossier.decided = None

    def _eligibility(self, dossier: Dossier, *, all_met: bool) -> None:
        failing = None if all_met else self.rng.randrange(len(dossier.plan.checks) or 1)
        at = dossier.decided or self.now
        for index, check in enumerate(dossier.plan.checks):
            met = index != failing
            note = "" if met else "Condition non remplie au vu des pièces fournies."
            self.rows["eligibility"].append((dossier.id, check, met, note, dossier.decider, at))

    # --- references and rows ---------------------------------------------------------------------

    def number(self) -> dict[tuple[str, int], int]:
        """References per (prefix, year of creation), in creation order, after the numbers given."""
        groups: dict[tuple[str, int], list[Dossier]] = defaultdict(list)
        for dossier in self.dossiers:
            groups[(dossier.plan.call.reference_prefix, timezone.localtime(dossier.created).year)].append(
                dossier
            )
        last: dict[tuple[str, int], int] = {}
        for (prefix, year), members in sorted(groups.items()):
            number = _last_number(prefix, year, Application, "reference")
            for dossier in sorted(members, key=lambda d: (d.created, d.id)):
                number += 1
                dossier.reference = f"{prefix}-{year}-{number:05d}"
            last[(prefix, year)] = number
        return last

    def write(self) -> None:
        rng, writer = self.rng, self.writer
        app_rows, member_rows, place_rows, budget_rows, change_rows = [], [], [], [], []
        for d in self.dossiers:
            call = d.plan.call
            lead_org = self.pool.org_ids[d.lead]
            places = self.pool.places[d.lead] if d.complete or rng.random() < 0.7 else []
            filled = d.complete
            texts = {key: (rng.choice(options) if filled else "") for key, options in SECTION_TEXTS.items()}
            summary = (
                f"{d.title} : un tiers-lieu qui veut devenir le lieu ressource de son territoire."
                if filled or rng.random() < 0.5
                else ""
            )
            app_rows.append(
                (
                    d.id,
                    d.reference,
                    call.pk,
                    d.wave,
                    d.status,
                    d.kind,
                    d.title,
                    summary,
                    texts["services"],
                    texts["community_governance"],
                    texts["partnerships"],
                    texts["resource_role"],
                    texts["digital_offer"],
                    texts["territorial_need"],
                    texts["economic_model"],
                    Decimal(rng.choice((1, 1.5, 2, 2.5, 3, 4, 5))) if filled else None,
                    self.pool.departement[d.lead],
                    d.score,
                    d.spread,
                    d.previous,
                    self.pool.representative[d.lead],
                    d.created,
                    d.updated or d.created,
                    d.submitted,
                )
            )
            partners = []
            if rng.random() < 0.4:
                for _ in range(rng.randint(1, 2)):
                    other = self.pool.org_ids[rng.randrange(len(self.pool.org_ids))]
                    if other != lead_org and other not in partners:
                        partners.append(other)
            lead_share = Decimal(100) if not partners else Decimal(rng.choice((50, 60, 70)))
            member_rows.append((d.id, lead_org, True, "Chef de file", lead_share))
            for partner in partners:
                share = ((Decimal(100) - lead_share) / len(partners)).quantize(Decimal("0.01"))
                member_rows.append((d.id, partner, False, rng.choice(PARTNER_ROLES), share))
            for place in places:
                place_rows.append((d.id, place))
            for year, requested in enumerate(d.asked, start=1):
                funding = Decimal(rng.randrange(10, 80) * THOUSAND) if requested else ZERO
                extra = Decimal(rng.randrange(0, 20) * THOUSAND) if requested else ZERO
                budget_rows.append((d.id, year, requested, funding, requested + funding + extra))
            for from_status, to_status, actor, note, at in d.changes:
                change_rows.append((d.id, from_status, to_status, actor, note, at))
        writer.insert(
            Application,
            (
                "id",
                "reference",
                "call_id",
                "wave_id",
                "status",
                "kind",
                "title",
                "summary",
                "services",
                "community_governance",
                "partnerships",
                "resource_role",
                "digital_offer",
                "territorial_need",
                "economic_model",
                "jobs_fte",
                "departement_id",
                "score",
                "score_spread",
                "previous_application_id",
                "created_by_id",
                "created_at",
                "updated_at",
                "submitted_at",
            ),
            app_rows,
        )
        writer.insert(
            Member, ("application_id", "organisation_id", "is_lead", "role", "share_percent"), member_rows
        )
        writer.insert(Application.places.through, ("application_id", "tierslieu_id"), place_rows)
        writer.insert(
            BudgetYear,
            ("application_id", "year_index", "requested", "other_funding", "total_cost"),
            budget_rows,
        )
        writer.insert(
            StatusChange,
            ("application_id", "from_status", "to_status", "actor_id", "note", "at"),
            change_rows,
        )
        writer.insert(
            Assignment,
            (
                "id",
                "application_id",
                "instructor_id",
                "assigned_by_id",
                "assigned_at",
                "conflict_of_interest",
                "conflict_note",
                "declared_at",
                "scores_submitted_at",
            ),
            self.rows["assignment"],
        )
        writer.insert(Score, ("assignment_id", "criterion_id", "value", "comment"), self.rows["score"])
        writer.insert(
            EligibilityAnswer,
            ("application_id", "condition_id", "satisfied", "note", "answered_by_id", "answered_at"),
            self.rows["eligibility"],
        )

    # --- grants after the award --------------------------------------------------------------------

    def write_grants(self) -> dict[tuple[str, int], int]:
        rng, now, writer = self.rng, self.now, self.writer
        grant_start = writer.reserve_ids(Grant, len(self.grants))
        grant_rows, agreement_rows, tranche_rows, report_rows = [], [], [], []
        by_year: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
        for offset, (dossier, _amount, _bonus, _yearly) in enumerate(self.grants):
            assert dossier.decided is not None  # noqa: S101
            by_year[timezone.localtime(dossier.decided).year].append((offset, dossier.decided))
        numbers: dict[int, str] = {}
        last: dict[tuple[str, int], int] = {}
        for year, items in sorted(by_year.items()):
            number = _last_number(AGREEMENT_PREFIX, year, Agreement, "number")
            for offset, _at in sorted(items, key=lambda item: (item[1], item[0])):
                number += 1
                numbers[offset] = f"{AGREEMENT_PREFIX}-{year}-{number:05d}"
            last[(AGREEMENT_PREFIX, year)] = number
        paid_serial = 0
        for offset, (dossier, amount, bonus, yearly) in enumerate(self.grants):
            grant_id = grant_start + offset
            awarded = dossier.decided
            assert awarded is not None and dossier.decider is not None  # noqa: S101
            instructor, admin = dossier.decider, self.staff.admin
            representative = self.pool.representative[dossier.lead]
            grant_rows.append(
                (grant_id, dossier.id, dossier.plan.call.pk, amount, bonus, "active", instructor, awarded)
            )
            signed = _after(rng, awarded, 7, 45, now + timedelta(days=3650))
            activated = _after(rng, signed, 3, 30, now + timedelta(days=3650))
            status, signed_at, accepted_by, starts_on, ends_on, commitment = (
                A.AWAITING_SIGNATURE,
                None,
                None,
                None,
                None,
                "",
            )
            if signed <= now:
                status, signed_at, accepted_by = A.SIGNED, signed, representative
            if activated <= now and signed_at is not None:
                status = A.ACTIVE
                starts_on = timezone.localdate(signed)
                ends_on = add_years(starts_on, dossier.plan.call.duration_years) - timedelta(days=1)
                commitment = f"21{rng.randint(0, 10**8 - 1):08d}"
            start = starts_on or timezone.localdate(awarded)
            paid_all = True
            moment = activated
            for year, part in enumerate(yearly, start=1):
                due = add_years(start, year - 1)
                row: dict[str, Any] = {
                    "status": T.SCHEDULED,
                    "requested_at": None,
                    "requested_by": None,
                    "validated_at": None,
                    "validated_by": None,
                    "paid_on": None,
                    "reference": "",
                    "paid_by": None,
                }
                if status == A.ACTIVE and moment <= now:
                    if year > 1:
                        due_moment = datetime.combine(due, datetime.min.time(), tzinfo=UTC)
                        uploaded = max(moment, due_moment - timedelta(days=rng.uniform(0, 40)))
                        accepted = uploaded + timedelta(days=rng.uniform(2, 25))
                        for kind in ReportKind:
                            if uploaded <= now:
                                done = accepted <= now
                                report_rows.append(
                                    (
                                        grant_id,
                                        year - 1,
                                        kind.value,
                                        f"rapports/{uploaded.year}/{dossier.reference.lower()}"
                                        f"-{kind.value}-{year - 1}.pdf",
                                        f"{kind.label} année {year - 1}.pdf",
                                        f"{rng.getrandbits(256):064x}",
                                        representative,
                                        uploaded,
                                        "accepted" if done else "submitted",
                                        instructor if done else None,
                                        accepted if done else None,
                                        "",
                                    )
                                )
                        moment = max(due_moment, accepted) + timedelta(days=rng.uniform(0, 30))
                    else:
                        moment = moment + timedelta(days=rng.uniform(1, 20))
                    if moment <= now:
                        row.update(status=T.REQUESTED, requested_at=moment, requested_by=representative)
                        validated = moment + timedelta(days=rng.uniform(1, 15))
                        if validated <= now:
                            row.update(status=T.VALIDATED, validated_at=validated, validated_by=instructor)
                            late = rng.random() < 0.05
                            paid = validated + timedelta(
                                days=rng.uniform(60, 90) if late else rng.uniform(2, 40)
                            )
                            if paid <= now:
                                paid_serial += 1
                                row.update(
                                    status=T.PAID,
                                    paid_on=timezone.localdate(paid),
                                    paid_by=admin,
                                    reference=f"VIR-{paid.year}-{paid_serial:06d}",
                                )
                                moment = paid
                if row["status"] != T.PAID:
                    paid_all = False
                    moment = now + timedelta(days=1)
                tranche_rows.append(
                    (
                        grant_id,
                        year,
                        part + (bonus if year == 1 else ZERO),
                        due,
                        row["status"],
                        row["requested_at"],
                        row["requested_by"],
                        row["validated_at"],
                        row["validated_by"],
                        row["paid_on"],
                        row["reference"],
                        row["paid_by"],
                        "",
                        # The lead's establishment not looked up again at validation.
                        "",
                        "",
                    )
                )
            if status == A.ACTIVE and paid_all:
                status = A.COMPLETED
            agreement_rows.append(
                (
                    grant_id,
                    numbers[offset],
                    status,
                    commitment,
                    "",
                    "",
                    accepted_by,
                    signed_at,
                    starts_on,
                    ends_on,
                    None,
                    "",
                    ZERO,
                    awarded,
                )
            )
        writer.insert(
            Grant,
            ("id", "application_id", "call_id", "amount", "bonus", "status", "awarded_by_id", "awarded_at"),
            grant_rows,
        )
        writer.insert(
            Agreement,
            (
                "grant_id",
                "number",
                "status",
                "commitment_number",
                "signed_copy",
                "signed_copy_sha256",
                "accepted_by_id",
                "signed_at",
                "starts_on",
                "ends_on",
                "terminated_at",
                "termination_reason",
                "clawback_amount",
                "created_at",
            ),
            agreement_rows,
        )
        writer.insert(
            Tranche,
            (
                "grant_id",
                "year_index",
                "amount",
                "due_date",
                "status",
                "requested_at",
                "requested_by_id",
                "validated_at",
                "validated_by_id",
                "paid_on",
                "payment_reference",
                "paid_recorded_by_id",
                "cancel_reason",
                "establishment_check",
                "establishment_check_note",
            ),
            tranche_rows,
        )
        writer.insert(
            Report,
            (
                "grant_id",
                "year_index",
                "kind",
                "file",
                "original_name",
                "sha256",
                "uploaded_by_id",
                "uploaded_at",
                "status",
                "reviewed_by_id",
                "reviewed_at",
                "review_note",
            ),
            report_rows,
        )
        return last

    assignment_start = 0


def _last_number(prefix: str, year: int, model: type[models.Model], column: str) -> int:
    """The counter's last number for (prefix, year), or the highest such number already given."""
    counter = (
        ReferenceCounter.objects.filter(prefix=prefix, year=year)
        .values_list("last_number", flat=True)
        .first()
    )
    head = f"{prefix}-{year}-"
    given = [
        int(value[len(head) :])
        for value in model._default_manager.filter(**{f"{column}__startswith": head}).values_list(
            column, flat=True
        )
        if value[len(head) :].isdigit()
    ]
    return max([counter or 0, *given])


def _move_counters(last: Iterable[tuple[tuple[str, int], int]]) -> None:
    for (prefix, year), number in last:
        counter, _created = ReferenceCounter.objects.get_or_create(prefix=prefix, year=year)
        counter = ReferenceCounter.objects.select_for_update().get(pk=counter.pk)
        if number > counter.last_number:
            counter.last_number = number
            counter.save(update_fields=["last_number"])


# --- the entry point ----------------------------------------------------------------------------


def seed_bulk(
    *,
    dossiers: int,
    seed: int = 1,
    calls: int = 6,
    now: datetime | None = None,
    password: str | None = None,
) -> BulkSummary:
    """Add `dossiers` dossiers spread over `calls` calls (the last one the programme's open call).

    `now` fixes the present (for identical data from one seed); `password` is given to every
    applicant account created (unusable by default).
    """
    if dossiers < 0 or calls < 1:
        raise ValueError("dossiers must be >= 0 and calls >= 1")
    began = time.perf_counter()
    now = (now or timezone.now()).replace(microsecond=0)
    rng = random.Random(seed)  # noqa: S311 (reproducible test data, not secrets)
    writer = RowWriter()
    with transaction.atomic():
        staff = _staff()
        plans = _plans(calls, dossiers, now)
        organisations = max(len(Departement.objects.all()) + 9, int(dossiers * 0.55))
        # One hash for every account: hashing is slow on purpose.
        hashed = make_password(password)
        pool = _applicants(rng, writer, organisations, now, hashed)
        builder = Builder(rng, writer, pool, staff, now)
        builder.assignment_start = writer.reserve_ids(Assignment, 2 * dossiers + 2)
        builder.build(plans)
        last = builder.number()
        builder.write()
        last.update(builder.write_grants())
        _move_counters(sorted(last.items()))
        for plan in plans:
            if plan.laureates:
                Call.objects.filter(pk=plan.call.pk).update(
                    committed_amount=F("committed_amount") + plan.committed,
                    laureate_count=F("laureate_count") + plan.laureates,
                )
    summary = BulkSummary(dossiers=len(builder.dossiers))
    summary.rows = {
        "users": writer.counts[User._meta.db_table],
        "organisations": writer.counts[Organisation._meta.db_table],
        "places": writer.counts[TiersLieu._meta.db_table],
        "members": writer.counts[Member._meta.db_table],
        "budget_years": writer.counts[BudgetYear._meta.db_table],
        "status_changes": writer.counts[StatusChange._meta.db_table],
        "assignments": writer.counts[Assignment._meta.db_table],
        "scores": writer.counts[Score._meta.db_table],
        "grants": writer.counts[Grant._meta.db_table],
        "tranches": writer.counts[Tranche._meta.db_table],
        "reports": writer.counts[Report._meta.db_table],
    }
    summary.by_status = dict(Counter(str(d.status) for d in builder.dossiers))
    for plan in plans:
        call = Call.objects.get(pk=plan.call.pk)
        summary.calls.append(
            CallSummary(
                call.slug,
                plan.dossiers,
                call.laureate_count,
                call.committed_amount,
                call.envelope,
                call.target_count,
            )
        )
    summary.seconds = time.perf_counter() - began
    return summary
