"""A small scripted browser: fetches pages, reads their forms and submits them like a person would.

It goes through the real pages (CSRF tokens included) so the demo exercises what merchants use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # select name → (value, label)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) of submit buttons

    def choose(self, select: str, label_contains: str) -> None:
        """Pick the option of ``select`` whose label contains the text (case-insensitive)."""
        for value, label in self.options.get(select, []):
            if label_contains.lower() in label.lower():
                self.fields[select] = value
                return
        raise LookupError(f"no option like {label_contains!r} in {select}: {self.options.get(select)}")


class _FormParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None
        self._option: tuple[str, bool] | None = None
        self._label: list[str] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(Form(action=attributes.get("action", ""), method=attributes.get("method", "get").lower()))
        if not self.forms:
            return
        form = self.forms[-1]
        name = attributes.get("name")
        if tag == "input" and name:
            kind = attributes.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in attributes:
                    form.fields[name] = attributes.get("value", "on")
            elif kind == "submit":
                form.buttons.append((name, attributes.get("value", "")))
            else:
                form.fields[name] = attributes.get("value", "")
        elif tag == "button" and name:
            form.buttons.append((name, attributes.get("value", "")))
        elif tag == "select" and name:
            self._select = name
            form.options[name] = []
        elif tag == "option" and self._select:
            self._option = (attributes.get("value", ""), "selected" in attributes)
            self._label = []
        elif tag == "textarea" and name:
            self._textarea = name
            form.fields[name] = ""

    def handle_data(self, data):
        if self._option is not None:
            self._label.append(data)
        elif self._textarea is not None:
            self.forms[-1].fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "option" and self._option is not None and self._select:
            value, selected = self._option
            form = self.forms[-1]
            form.options[self._select].append((value, " ".join("".join(self._label).split())))
            if selected or self._select not in form.fields:
                form.fields[self._select] = value
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


class Browser:
    """One merchant's browser: a cookie jar and the page it is on."""

    def __init__(self, timeout: float = 60):
        self.session = requests.Session()
        self.timeout = timeout
        self.page: requests.Response | None = None

    def open(self, url: str) -> requests.Response:
        self.page = self.session.get(url, timeout=self.timeout)
        self.page.raise_for_status()
        return self.page

    def form(self, having: str) -> Form:
        """The first form on the page with a field, select or button named ``having``."""
        parser = _FormParser()
        parser.feed(self.page.text)
        for form in parser.forms:
            if having in form.fields or having in form.options or any(name == having for name, _ in form.buttons):
                form.action = urljoin(self.page.url, form.action or self.page.url)
                return form
        raise LookupError(f"no form with {having!r} on {self.page.url}")

    def submit(self, form: Form, button: tuple[str, str] | None = None) -> requests.Response:
        data = dict(form.fields)
        if button:
            data[button[0]] = button[1]
        self.page = self.session.post(form.action, data=data, timeout=self.timeout)
        self.page.raise_for_status()
        return self.page
