"""Free text from users: markup and scripts removed, whitespace trimmed."""
import nh3


def plain(value):
    """`value` with every HTML tag and script removed (their text kept), trimmed."""
    return nh3.clean(value, tags=set(), clean_content_tags={"script", "style"}).strip() if value else value
