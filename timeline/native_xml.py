"""Editors' XML documents (FCP 7 XML, FCPXML) parsed safely, patched in place, checked.

The result of a round trip is the editor's own document with the Foley added: these helpers
parse it with lxml (no entities, no DTD loading, no network, libxml2's size limits kept),
insert new elements with the document's own indentation, serialize it with its own XML
declaration and DOCTYPE, and check that a result kept every element of its input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from lxml import etree

from timeline.errors import MalformedTimeline, ResultError

Element = etree._Element

_DECLARATION = re.compile(rb"^\s*(<\?xml[^>]*\?>)")


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not safe to share between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def parse_document(data: bytes, *, file: str, what: str = "XML") -> etree._ElementTree:
    """The document's tree; MalformedTimeline (naming the file and line) when it is not XML.

    `what` names the format in the message ("not a valid fcp_xml file: ...")."""
    if b"<!ENTITY" in data:
        raise MalformedTimeline("XML entity declarations are not accepted in timelines", file=file)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise MalformedTimeline(
            f"not a valid {what} file: not well-formed XML: {error}", file=file
        ) from error
    return root.getroottree()


def serialize_document(tree: etree._ElementTree, original: bytes) -> bytes:
    """The tree as bytes, with the original's XML declaration kept as it was written."""
    encoding = tree.docinfo.encoding or "UTF-8"
    body = etree.tostring(tree, encoding=encoding, xml_declaration=False)
    trailing = original[len(original.rstrip()) :]
    match = _DECLARATION.match(original)
    if match is not None:
        body = match.group(1) + b"\n" + body.lstrip()
    return body.rstrip() + trailing


def element_label(element: Element) -> str:
    """How an error names an element: its tag, id or name, and line in the file."""
    label = f"<{element.tag}"
    for key in ("id", "name", "ref"):
        if key in element.attrib:
            label += f' {key}="{element.attrib[key]}"'
            break
    else:
        name = element.find("name")
        if name is not None and name.text:
            label += f" named {name.text.strip()!r}"
    line = element.sourceline
    return label + (f"> (line {line})" if line else ">")


def used_ids(root: Element, prefix: str = "foley-") -> set[str]:
    """The ids the document uses that start with `prefix` (all that new ids could hit)."""
    return {str(value) for value in root.xpath("//@id[starts-with(., $p)]", p=prefix)}


class IdMaker:
    """New ids `foley-<kind>-N` that no element of the document uses."""

    def __init__(self, taken: Iterable[str]):
        self._taken = set(taken)
        self._next: dict[str, int] = {}

    def new(self, kind: str) -> str:
        number = self._next.get(kind, 1)
        while f"foley-{kind}-{number}" in self._taken:
            number += 1
        identifier = f"foley-{kind}-{number}"
        self._taken.add(identifier)
        self._next[kind] = number + 1
        return identifier


def parse_fragment(text: str) -> Element:
    """An element built as text by this package (escaped), parsed with the safe parser.

    Raises ResultError when a name carried into it cannot be XML (control characters)."""
    try:
        return etree.fromstring(text.encode("utf-8"), _parser())
    except etree.XMLSyntaxError as error:
        raise ResultError(f"a clip name or path cannot be written in XML: {error}") from error


def insert_child(parent: Element, index: int, child: Element) -> None:
    """Insert `child` at `index`, indented like its siblings when the document is indented.

    Whitespace of existing elements is moved only between them (a tail becomes the new
    element's tail), so every existing element keeps its content.
    """
    count = len(parent)
    indent = _child_indent(parent)
    if indent is not None:
        unit = _indent_unit(parent, indent)
        level = indent.count(unit) if unit else 0
        if len(child):
            etree.indent(child, space=unit, level=level)
        if index >= count:
            if count:
                last = parent[count - 1]
                child.tail = last.tail
                last.tail = "\n" + indent
            else:
                own = _own_indent(parent)
                child.tail = "\n" + own if own is not None else None
                parent.text = "\n" + indent
        else:
            child.tail = "\n" + indent
    parent.insert(index, child)


def _child_indent(parent: Element) -> str | None:
    text = parent.text
    if text is None and not len(parent):
        # An empty element (<ref-clip .../>): one step deeper than the element itself.
        own = _own_indent(parent)
        if own is None:
            return None
        grand = parent.getparent()
        outer = _own_indent(grand) if grand is not None else None
        step = own[len(outer) :] if outer is not None and own.startswith(outer) else ""
        return own + (step or ("\t" if "\t" in own else "    "))
    if text is None or text.strip() or "\n" not in text:
        return None
    return text[text.rfind("\n") + 1 :]


def _own_indent(element: Element) -> str | None:
    """The whitespace before `element` on its line, from its previous sibling or parent."""
    previous = element.getprevious()
    before = previous.tail if previous is not None else None
    if previous is None:
        parent = element.getparent()
        before = parent.text if parent is not None else None
    if before is None or before.strip() or "\n" not in before:
        return None
    return before[before.rfind("\n") + 1 :]


def _indent_unit(parent: Element, indent: str) -> str:
    if "\t" in indent:
        return "\t"
    grand = parent.getparent()
    outer = _child_indent(grand) if grand is not None else ""
    step = len(indent) - len(outer or "")
    return " " * step if step > 0 else "  "


# --- fidelity ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FidelityReport:
    """What a result changed of its input: nothing, when `problems` is empty."""

    problems: tuple[str, ...]
    added: tuple[str, ...]  # labels of the elements the result added

    @property
    def ok(self) -> bool:
        return not self.problems


def xml_fidelity(
    original: bytes,
    result: bytes,
    *,
    is_foley: Callable[[Element], bool],
    file: str = "<result>",
) -> FidelityReport:
    """Compare two documents element by element, canonically (whitespace between elements
    ignored, attributes as a set): every input element must be present in the result with its
    tag, attributes, text and children unchanged and in order; every element the result adds
    must satisfy `is_foley`. Elements are matched in order, so the check is linear.
    """
    before = parse_document(original, file=file).getroot()
    after = parse_document(result, file=file).getroot()
    problems: list[str] = []
    added: list[str] = []
    _compare(before, after, is_foley, problems, added)
    return FidelityReport(tuple(problems), tuple(added))


def _same_node(a: Element, b: Element) -> bool:
    return (
        a.tag == b.tag
        and dict(a.attrib) == dict(b.attrib)
        and (a.text or "").strip() == (b.text or "").strip()
    )


def _compare(
    before: Element,
    after: Element,
    is_foley: Callable[[Element], bool],
    problems: list[str],
    added: list[str],
) -> None:
    if not _same_node(before, after):
        problems.append(f"{element_label(before)} changed into {element_label(after)}")
        return
    old = [child for child in before if isinstance(child.tag, str)]
    new = [child for child in after if isinstance(child.tag, str)]
    position = 0
    for child in old:
        while position < len(new) and not _same_node(child, new[position]):
            if is_foley(new[position]):
                added.append(element_label(new[position]))
                position += 1
                continue
            break
        if position >= len(new):
            problems.append(f"{element_label(child)} is missing from the result")
            return
        if not _same_node(child, new[position]):
            later = old.index(child) + 1
            if later < len(old) and _same_node(old[later], new[position]):
                problems.append(f"{element_label(child)} is missing from the result")
                continue
            problems.append(f"{element_label(child)} changed into {element_label(new[position])}")
            return
        _compare(child, new[position], is_foley, problems, added)
        position += 1
    for extra in new[position:]:
        if is_foley(extra):
            added.append(element_label(extra))
        else:
            problems.append(f"{element_label(extra)} was added and is not Foley")
