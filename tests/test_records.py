import pytest

from rag import Document
from rag.errors import DocumentsError


@pytest.mark.parametrize("field", ["id", "text", "title"])
def test_a_document_with_a_lone_surrogate_is_refused_by_name(field):
    values = {"id": "a.txt", "text": "Alpha text.", "title": "Alpha"}
    values[field] = "caf\udce9"

    with pytest.raises(DocumentsError, match=f"A Document's {field} holds a character that is not valid Unicode"):
        Document(**values)


def test_a_document_of_any_valid_unicode_is_accepted():
    document = Document(id="日本.txt", text="Emoji 🙂 and accents é.", title="Ω")

    assert document.sha256 == "596d43c95a102b7b9660736de9eb3afc7329f8c8e87f7e6c0a20e0660b2e5bed"
