"""Numbers printed inside HTML attributes are not localised.

USE_THOUSAND_SEPARATOR shows « 1 503 tiers-lieux » in text, but an id printed the same way in a
field's name, a value or an anchor (« membre-1 234-role ») no longer matches what the server
expects. Every primary key, count or year printed inside an attribute goes through `|unlocalize`.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
# An attribute value holding a variable whose name says it is a number.
# Titles and labels are read, not posted back: a separator there is French typography.
NUMERIC_IN_ATTRIBUTE = re.compile(
    r'(?<![a-z-])(?!title=|aria-label=)[a-z-]+="[^"]*\{\{ ?[a-z_.]*(?:\.pk|\.id|_id|\.year|total|done|count|number)'
    r'(?:\|(?!unlocalize)[^}]*)? ?\}\}[^"]*"'
)
# Variables whose names end like a number's but hold text (element ids built by the templates).
TEXT_IDS = ("auto_id", "status_id", "error_id", "hint_id", "css_id", "input.id")


def test_no_template_prints_a_localised_number_in_an_attribute():
    offenders = []
    for folder in TEMPLATE_DIRS:
        for template in folder.rglob("*.html"):
            if "pdf" in template.parts:
                continue  # PDFs are read, never posted back
            for number, line in enumerate(template.read_text(encoding="utf-8").splitlines(), start=1):
                for match in NUMERIC_IN_ATTRIBUTE.finditer(line):
                    if any(f"{name} }}}}" in match.group(0) for name in TEXT_IDS):
                        continue
                    offenders.append(f"{template.relative_to(ROOT)}:{number}: {match.group(0)}")
    assert not offenders, "add |unlocalize:\n" + "\n".join(offenders)
