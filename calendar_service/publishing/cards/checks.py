"""What ``check`` says about cards: texts that cannot fit at a readable size, with FILE:LINE."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from calendar_service.base.errors import Problem
from calendar_service.data.model import Catalog, Office
from calendar_service.publishing.cards.spec import catalog_cards


def card_problems(catalog: Catalog, offices: Sequence[Office], *, days_file: str,
                  offices_file: str, today: date) -> list[Problem]:
    from calendar_service.publishing.cards.layout import layout, signature_problems

    found: dict[tuple[int | None, str, str], list[str]] = {}
    for spec in catalog_cards(catalog, today):
        day = catalog.day(spec.day_id)
        assert day is not None
        for what, message in layout(spec, probe=True).problems:
            official = day.official_name.only(spec.lang) if day.official_name else None
            field = {"name": f"{'official_name' if official else 'name'}.{spec.lang}",
                     "card_line": f"content.{spec.lang}.card_line",
                     "hashtag": f"content.{spec.lang}.hashtags[0]"}.get(what, what)
            line = day.field_lines.get(field, day.line)
            sizes = found.setdefault((line, f"days[{day.order}].{field}", message), [])
            if spec.size not in sizes:
                sizes.append(spec.size)
    problems = [Problem(days_file, line, field, f"{message} on the {', '.join(sizes)} "
                        f"card{'s' if len(sizes) > 1 else ''}; shorten it")
                for (line, field, message), sizes in found.items()]
    for i, office in enumerate(offices):
        if office.signature and office.cards:
            sizes = signature_problems(office.signature)
            if sizes:
                problems.append(Problem(offices_file, office.line, f"offices[{i}].signature",
                                        f"{office.signature!r} does not fit on one line of the "
                                        f"{', '.join(sizes)} card(s); shorten it"))
    return problems
