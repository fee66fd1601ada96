"""The browser benchmark knows every page in the sidebar: a page it has no first data element for would time out
(or, worse, count as painted on the wrong element) in a run that takes a quarter of an hour to get there."""

from bench.browser import FIRST_ELEMENT, role_pages
from dashboards.access import PAGE_TITLES, PAGES_BY_ROLE


def test_every_page_of_every_role_has_its_first_data_element():
    pages = {page for role in PAGES_BY_ROLE for page in role_pages(role)}
    assert pages <= set(FIRST_ELEMENT) <= set(PAGE_TITLES)
