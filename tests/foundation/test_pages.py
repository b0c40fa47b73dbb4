"""The shared page frame, the admin login and the API schema render; the home page fits a phone."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
import yaml

pytestmark = pytest.mark.django_db

# Tag -> attributes that make the browser fetch something.
RESOURCE_ATTRIBUTES = {
    "link": ("href",),
    "script": ("src",),
    "img": ("src", "srcset"),
    "source": ("src", "srcset"),
    "iframe": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "embed": ("src",),
    "object": ("data",),
}


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.html_attrs: dict[str, str | None] = {}
        self.links: list[str] = []
        self.resources: list[str] = []
        self.stylesheets: list[str] = []
        self.styles: list[str] = []
        self.ids: set[str] = set()
        self._in_style = False
        self.landmarks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.html_attrs = values
        if values.get("id"):
            self.ids.add(values["id"])
        if tag in {"header", "nav", "main", "footer"}:
            self.landmarks.append(tag)
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        if tag == "link" and values.get("rel") == "stylesheet":
            self.stylesheets.append(values.get("href") or "")
        for name in RESOURCE_ATTRIBUTES.get(tag, ()):
            if values.get(name):
                self.resources.append(values[name])
        if values.get("style"):
            self.styles.append(values["style"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def is_external(url: str) -> bool:
    return url.strip().lower().startswith(("http://", "https://", "//"))


def test_the_home_page_renders_with_the_site_frame(client):
    # when
    response = client.get("/")
    # then
    assert response.status_code == 200
    page = parse(response.content.decode())
    assert page.html_attrs.get("lang", "").lower().startswith("en")
    assert {"header", "nav", "main", "footer"} <= set(page.landmarks)
    assert page.links[0] == "#main", "the skip link comes first"
    assert "main" in page.ids
    assert "/" in page.links
    assert "/static/css/site.css" in page.stylesheets


def test_the_home_page_footer_links_to_the_privacy_policy_and_cookie_preferences(client):
    page = parse(client.get("/").content.decode())
    assert "/privacy/" in page.links
    assert "/cookies/" in page.links


def test_the_home_page_loads_no_external_resource(client):
    # when
    page = parse(client.get("/").content.decode())
    # then: every stylesheet, script, image and frame is our own
    assert page.resources, "the parser found the page's resources"
    assert [url for url in page.resources if is_external(url)] == []
    assert [style for style in page.styles if "url(" in style and "http" in style] == []


def test_the_home_page_offers_log_in_and_sign_up_to_a_visitor(client):
    page = parse(client.get("/").content.decode())
    assert "/accounts/login/" in page.links
    assert "/accounts/signup/" in page.links


def test_the_home_page_refuses_post(client):
    assert client.post("/").status_code == 405


def test_the_admin_login_page_is_the_site_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"
    content = client.get(response["Location"]).content.decode()
    assert 'name="login"' in content
    assert 'name="password"' in content


def test_the_admin_sends_an_anonymous_visitor_to_its_login_page(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_api_schema_is_an_openapi_document(client):
    # when
    response = client.get("/api/schema/")
    # then
    assert response.status_code == 200
    assert "openapi" in response["Content-Type"]
    document = yaml.safe_load(response.content)
    assert str(document["openapi"]).startswith("3.")
    assert document["info"]["title"] == "Privacy site API"
    assert "paths" in document


def test_the_api_schema_is_also_served_as_json(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert str(response.json()["openapi"]).startswith("3.")


def test_the_api_docs_page_renders(client):
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.browser
def test_the_home_page_has_no_horizontal_scroll_on_a_phone(browser, live_server):
    # given a phone-sized screen
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 375, "height": 667}, is_mobile=True
    )
    try:
        tab = context.new_page()
        # when
        response = tab.goto("/")
        # then
        assert response is not None and response.ok
        scroll_width, client_width = tab.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert client_width == 375
        assert scroll_width <= client_width
        # and our stylesheet was served and applied
        rules = tab.evaluate("Array.from(document.styleSheets).map(s => s.cssRules.length)")
        assert rules and all(count > 0 for count in rules)
    finally:
        context.close()


@pytest.mark.browser
def test_the_skip_link_moves_focus_to_the_main_content(page):
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
