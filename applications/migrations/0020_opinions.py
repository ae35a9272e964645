"""Expert opinions: a question, a due date, a form of answer, confidential or shared, files both ways,
an expert's account, a state and its log.

The requests asked before: those answered become « rendu », the others stay open and get an
expert account (created for their address with no usable password, with the role « Expert »:
their e-mail's link still leads them in, to set a password first); their due date is the call's
default delay from the day they were asked; each gets its log rows (asked, and given if it was).
They stay confidential, as they were shown to the instruction only.
"""

import secrets
from datetime import timedelta

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def forward(apps, schema_editor):
    Opinion = apps.get_model("applications", "Opinion")
    OpinionChange = apps.get_model("applications", "OpinionChange")
    User = apps.get_model("accounts", "User")
    Group = apps.get_model("auth", "Group")
    expert_group = Group.objects.get(name="expert")
    for opinion in Opinion.objects.order_by("pk").iterator():
        opinion.due_on = opinion.requested_at.date() + timedelta(days=15)
        OpinionChange.objects.create(
            opinion=opinion,
            from_status="",
            to_status="requested",
            actor_id=opinion.requested_by_id,
            at=opinion.requested_at,
        )
        if opinion.given_at is not None:
            opinion.status = "given"
            OpinionChange.objects.create(
                opinion=opinion, from_status="requested", to_status="given", at=opinion.given_at
            )
        else:
            email = opinion.email.strip().lower()
            expert = User.objects.filter(email__iexact=email).first()
            if expert is None:
                expert = User.objects.create(email=email, password="!" + secrets.token_urlsafe(30))
            expert.groups.add(expert_group)
            opinion.expert = expert
        opinion.save(update_fields=["due_on", "status", "expert"])


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0019_review_facts_lock"),
        ("accounts", "0006_expert_role"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="OpinionChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("from_status", models.CharField(blank=True, max_length=10, verbose_name="de")),
                ("to_status", models.CharField(max_length=10, verbose_name="vers")),
                ("note", models.TextField(blank=True, verbose_name="motif")),
                ("at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="le")),
            ],
            options={
                "verbose_name": "changement d'état d'un avis",
                "verbose_name_plural": "changements d'état des avis",
                "ordering": ("opinion", "at", "pk"),
            },
        ),
        migrations.AlterModelOptions(
            name="opinion",
            options={
                "ordering": ("application", "requested_at"),
                "verbose_name": "avis d'expert",
                "verbose_name_plural": "avis d'expert",
            },
        ),
        migrations.AddField(
            model_name="call",
            name="opinion_delay_days",
            field=models.PositiveSmallIntegerField(
                default=15,
                help_text="Date limite proposée quand un avis est demandé ; l'instructeur peut en choisir une autre.",
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="délai des avis d'expert (jours)",
            ),
        ),
        migrations.AddField(
            model_name="call",
            name="opinion_reminder_days",
            field=models.PositiveSmallIntegerField(
                default=3,
                help_text="L'expert est relancé ce nombre de jours avant la date limite ; 0 : aucun rappel.",
                verbose_name="rappel avant la date limite d'un avis (jours)",
            ),
        ),
        migrations.AddField(
            model_name="opinion",
            name="answer_files",
            field=models.ManyToManyField(
                blank=True,
                related_name="+",
                to="applications.messagefile",
                verbose_name="pièces jointes de l'avis",
            ),
        ),
        migrations.AddField(
            model_name="opinion",
            name="answer_kind",
            field=models.CharField(
                choices=[
                    ("verdict", "Avis libre (favorable, réservé ou défavorable)"),
                    ("yes_no", "Réponse par oui ou non"),
                ],
                default="verdict",
                max_length=10,
                verbose_name="forme de la réponse",
            ),
        ),
        migrations.AddField(
            model_name="opinion",
            name="cancelled_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="annulé le"),
        ),
        migrations.AddField(
            model_name="opinion",
            name="confidential",
            field=models.BooleanField(default=True, verbose_name="avis confidentiel"),
        ),
        migrations.AddField(
            model_name="opinion",
            name="due_on",
            field=models.DateField(null=True, verbose_name="à rendre avant le"),
        ),
        migrations.AddField(
            model_name="opinion",
            name="expert",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="opinions_asked",
                to=settings.AUTH_USER_MODEL,
                verbose_name="expert",
            ),
        ),
        migrations.AddField(
            model_name="opinion",
            name="question",
            field=models.TextField(blank=True, max_length=5000, verbose_name="question posée"),
        ),
        migrations.AddField(
            model_name="opinion",
            name="request_files",
            field=models.ManyToManyField(
                blank=True,
                related_name="+",
                to="applications.messagefile",
                verbose_name="pièces jointes de la demande",
            ),
        ),
        migrations.AddField(
            model_name="opinion",
            name="status",
            field=models.CharField(
                choices=[("requested", "Demandé"), ("given", "Rendu"), ("cancelled", "Annulé")],
                default="requested",
                max_length=10,
                verbose_name="état",
            ),
        ),
        migrations.AlterField(
            model_name="opinion",
            name="comment",
            field=models.TextField(blank=True, max_length=10000, verbose_name="commentaire"),
        ),
        migrations.AlterField(
            model_name="opinion",
            name="email",
            field=models.EmailField(max_length=254, verbose_name="adresse de l'expert"),
        ),
        migrations.AlterField(
            model_name="opinion",
            name="verdict",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "En attente"),
                    ("favourable", "Favorable"),
                    ("reserved", "Réservé"),
                    ("unfavourable", "Défavorable"),
                    ("yes", "Oui"),
                    ("no", "Non"),
                ],
                default="",
                max_length=12,
                verbose_name="avis",
            ),
        ),
        migrations.AddField(
            model_name="opinionchange",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="opinionchange",
            name="opinion",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="changes", to="applications.opinion"
            ),
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="opinion",
            name="due_on",
            field=models.DateField(verbose_name="à rendre avant le"),
        ),
        migrations.AddIndex(
            model_name="opinion",
            index=models.Index(
                condition=models.Q(("status", "requested")),
                fields=["expert", "due_on"],
                name="applications_opinion_open",
            ),
        ),
        migrations.AddConstraint(
            model_name="opinion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("given_at__isnull", False),
                        ("status", "given"),
                        models.Q(("verdict", ""), _negated=True),
                    ),
                    models.Q(
                        ("given_at__isnull", True),
                        ("status__in", ["requested", "cancelled"]),
                        ("verdict", ""),
                    ),
                    _connector="OR",
                ),
                name="applications_opinion_given_has_verdict",
                violation_error_message="Un avis rendu a une réponse et une date ; un autre n'en a pas.",
            ),
        ),
        migrations.AddConstraint(
            model_name="opinion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("expert__isnull", False), ("status", "requested")),
                    models.Q(("status", "requested"), _negated=True),
                    _connector="OR",
                ),
                name="applications_opinion_open_has_expert",
            ),
        ),
        migrations.AddConstraint(
            model_name="opinion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("answer_kind", "verdict"),
                        ("verdict__in", ["", "favourable", "reserved", "unfavourable"]),
                    ),
                    models.Q(("answer_kind", "yes_no"), ("verdict__in", ["", "yes", "no"])),
                    _connector="OR",
                ),
                name="applications_opinion_verdict_of_kind",
                violation_error_message="La réponse ne correspond pas à la forme demandée.",
            ),
        ),
        migrations.AddConstraint(
            model_name="opinion",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("cancelled_at__isnull", False), ("status", "cancelled")),
                    models.Q(
                        models.Q(("status", "cancelled"), _negated=True), ("cancelled_at__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="applications_opinion_cancelled_dated",
            ),
        ),
    ]
