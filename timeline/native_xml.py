"""Editors' XML documents (FCP 7 XML, FCPXML) parsed safely, patched in place, checked.

The result of a round trip is the editor's own document with the Foley added: these helpers
parse it with lxml (no entities, no DTD loading, no network, libxml2's size limits kept),
insert new elements with the document's own indentation, serialize it with its own XML
declaration and DOCTYPE, and check that a result kept every element of its input.
"""

from __future__ import annotations

import codecs
import itertools
import re
import threading
from collections.abc import Callable, Iterable, Sequence
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


class ParsedDocument:
    """A document's tree as it was parsed when the timeline was read (ids checked), lent to
    the one patch that writes the result, so that a result does not parse the file again.

    A patch changes the tree, so it is taken once: later results parse the original bytes.
    Held from reading to the result, it costs about seven times the file's size in memory
    (63 MB for a 9 MB, 10,000-clip FCP 7 XML).
    """

    def __init__(self, tree: etree._ElementTree) -> None:
        self._tree: etree._ElementTree | None = tree
        self._lock = threading.Lock()

    def take(self) -> etree._ElementTree | None:
        """The tree, the first time; None after that."""
        with self._lock:
            tree, self._tree = self._tree, None
        return tree


def serialize_document(
    tree: etree._ElementTree, original: bytes, stand_ins: Sequence[StandIn] = ()
) -> bytes:
    """The tree as bytes, with the original's XML declaration kept as it was written, and the
    text of each stand-in (`insert_text`) in its place."""
    encoding = tree.docinfo.encoding or "UTF-8"
    if stand_ins and codecs.lookup(encoding).name != "utf-8":
        # Another encoding may write characters as references: let lxml write them.
        _materialize(stand_ins)
        stand_ins = ()
    body = etree.tostring(tree, encoding=encoding, xml_declaration=False)
    if stand_ins:
        spliced = _splice(body, stand_ins)
        if spliced is None:
            _materialize(stand_ins)
            body = etree.tostring(tree, encoding=encoding, xml_declaration=False)
        else:
            body = spliced
    trailing = original[len(original.rstrip()) :]
    match = _DECLARATION.match(original)
    if match is not None:
        body = match.group(1) + b"\n" + body.lstrip()
    return body.rstrip() + trailing


# --- elements inserted as text ------------------------------------------------------------------

_STAND_IN_TAG = "foley-stand-in"
_STAND_IN = re.compile(rb"<foley-stand-in-(\d+)/>")
_stand_in_numbers = itertools.count(1)
# The single bytes XML 1.0 allows in UTF-8 text: tab, line feed, carriage return, and from
# space up (bytes from 0x80 are parts of longer characters).
_XML_BYTES = bytes([9, 10, 13, *range(0x20, 0x100)])


def _utf8_if_xml(text: str) -> bytes | None:
    """`text` in UTF-8 when XML 1.0 can hold every character of it, else None."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if data.translate(None, _XML_BYTES) or "\ufffe" in text or "\uffff" in text:
        return None
    return data


@dataclass(frozen=True)
class StandIn:
    """An empty element holding the place of elements this package rendered as XML text.

    Ten thousand Foley clip items parsed, indented and serialized again through lxml cost
    a third of a result; written as text in lxml's own layout and escaping (`xml_text`,
    `xml_attribute`, `child_indentation`) they are spliced into the serialized document
    as they are (`serialize_document`).
    """

    element: Element
    text: str
    data: bytes  # the text in UTF-8


def insert_text(parent: Element, index: int, text: str) -> StandIn | None:
    """Insert the elements `text` renders (one, or a run of siblings) at `index`, as
    `insert_children` inserts them parsed.

    `text` must be laid out as `insert_children` lays out new children of `parent` (each
    indented as `etree.indent` at `child_indentation(parent)`, siblings apart by a line break
    and that indentation; compact when it is None) and escaped as lxml writes (`xml_text`,
    `xml_attribute`). Returns the stand-in to hand to `serialize_document`, or None when the
    elements were parsed and inserted themselves. Raises ResultError when the text cannot be
    XML.
    """
    data = _utf8_if_xml(text)
    if data is None:
        # parse_fragment names the character; if it accepts the text, insert it parsed.
        insert_children(parent, index, _elements_of(text))
        return None
    element = etree.Element(f"{_STAND_IN_TAG}-{next(_stand_in_numbers)}")
    insert_child(parent, index, element)
    return StandIn(element, text, data)


def _elements_of(text: str) -> list[Element]:
    """The elements of a run, parsed; each keeps the whitespace after it as its tail."""
    return list(parse_fragment(f"<{_STAND_IN_TAG}>{text}</{_STAND_IN_TAG}>"))


def xml_text(value: str) -> str:
    """`value` as element content, as lxml writes it once parsed: line ends as the XML parser
    normalizes them, then `&`, `<` and `>` escaped."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attribute(value: str) -> str:
    """`value` as a double-quoted attribute, as lxml writes it."""
    escaped = (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )
    return f'"{escaped}"'


def _splice(body: bytes, stand_ins: Sequence[StandIn]) -> bytes | None:
    """`body` with each stand-in's text in its place; None unless each stand-in appears
    exactly once as itself (a namespace declaration added to it, say)."""
    texts = {
        stand_in.element.tag[len(_STAND_IN_TAG) + 1 :].encode(): stand_in.data
        for stand_in in stand_ins
    }
    parts = _STAND_IN.split(body)
    found = parts[1::2]
    if len(found) != len(texts) or set(found) != set(texts):
        return None
    parts[1::2] = [texts[number] for number in found]
    return b"".join(parts)


def _materialize(stand_ins: Sequence[StandIn]) -> None:
    """Replace each stand-in by its elements, parsed."""
    for stand_in in stand_ins:
        elements = _elements_of(stand_in.text)
        elements[-1].tail = stand_in.element.tail
        for element in elements:
            stand_in.element.addprevious(element)
        parent = stand_in.element.getparent()
        assert parent is not None
        parent.remove(stand_in.element)


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
        identifier = f"foley-{kind}-{number}"
        while identifier in self._taken:
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
    except UnicodeEncodeError as error:
        raise ResultError(
            f"a clip name or path cannot be written in XML: {error.reason} at "
            f"{error.object[error.start : error.end]!r}"
        ) from error


def insert_child(parent: Element, index: int, child: Element) -> None:
    """Insert `child` at `index`, indented like its siblings when the document is indented.

    Whitespace of existing elements is moved only between them (a tail becomes the new
    element's tail), so every existing element keeps its content.
    """
    insert_children(parent, index, (child,))


def insert_children(parent: Element, index: int, children: Sequence[Element]) -> None:
    """Insert `children` in order from `index` on, exactly as `insert_child` one at a time
    would (same indentation and tails), in one pass.

    lxml counts and indexes children by walking them, so thousands of one-at-a-time inserts
    into one element (Foley assets into `<resources>`, many clips connected to one long
    storyline element) are quadratic: 14 s for 10,000 assets.
    """
    if not children:
        return
    count = len(parent)
    index = min(index, count)
    indentation = child_indentation(parent)
    if indentation is not None:
        indent = indentation.indent
        for child in children:
            if len(child):
                etree.indent(child, space=indentation.unit, level=indentation.level)
            child.tail = "\n" + indent
        if index == count:
            # Appending: the last new element takes the old last one's tail (the parent's
            # closing indentation), as `insert_child` hands it on at each append.
            if count:
                last = parent[-1]
                children[-1].tail = last.tail
                last.tail = "\n" + indent
            else:
                own = _own_indent(parent)
                children[-1].tail = "\n" + own if own is not None else None
                parent.text = "\n" + indent
    if index == count:
        parent.extend(children)
        return
    # Each after the one before it: addnext does not walk the siblings, insert does.
    parent.insert(index, children[0])
    previous = children[0]
    for child in children[1:]:
        previous.addnext(child)
        previous = child


@dataclass(frozen=True)
class Indentation:
    """How a new child of an element is indented: after `indent` on its line, its own
    children laid out by `etree.indent(child, space=unit, level=level)`."""

    indent: str
    unit: str
    level: int

    def line(self, depth: int) -> str:
        """The line break and indentation before an element `depth` levels below the child
        (0: before the child's closing tag)."""
        return "\n" + self.unit * (self.level + depth)


def child_indentation(parent: Element) -> Indentation | None:
    """How `insert_child` indents a new child of `parent`; None when the document is not
    indented there (the child goes in as it is)."""
    indent = _child_indent(parent)
    if indent is None:
        return None
    unit = _indent_unit(parent, indent)
    return Indentation(indent, unit, indent.count(unit) if unit else 0)


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
