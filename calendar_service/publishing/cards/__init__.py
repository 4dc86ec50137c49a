"""Ready-to-post images of each day ("cards"), drawn with Pillow from the data.

``spec`` decides what a card shows (pure), ``palette`` its colours and contrast, ``layout``
where the text goes (font metrics only), ``draw`` the pixels, ``cache`` the PNGs on disk by
hash, ``sheet`` a contact sheet for review, ``checks`` what ``check`` reports. Pillow is
imported only by the modules that draw or measure.
"""

from calendar_service.publishing.cards.spec import PREVIEW, SIZES, CardSpec, card_spec, day_cards

__all__ = ["PREVIEW", "SIZES", "CardSpec", "card_spec", "day_cards"]
