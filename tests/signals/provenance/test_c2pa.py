"""C2PA Content Credentials: pictures the tests sign with c2pa-python's Builder under a certificate chain they
make with ``cryptography`` (benign gradients and shapes), read back by the ``c2pa`` signal, offline.

The expected states and codes are what c2pa-rs (through c2pa-python 0.38) reports for these files; every
value below was checked against its JSON, nothing is taken on trust from this module's own reading.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from cairn.model import FileResult, Finding, ItemMeta, Locator
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.c2pa_manifest import C2paSignal
from cairn.signals.provenance import c2pa_read

c2pa = pytest.importorskip("c2pa")
x509 = pytest.importorskip("cryptography.x509")

from cairn.demo import ai_samples_c2pa as demo  # noqa: E402  (needs c2pa-python and cryptography)
from cairn.demo.pictures import draw_picture, encode  # noqa: E402

TITLE = "a red bicycle on a beach"
UNTRUSTED = "signingCredential.untrusted"
DATA_HASH_MISMATCH = "assertion.dataHash.mismatch"


@pytest.fixture(scope="module")
def chain() -> demo.TestChain:
    return demo.make_chain(b"tests")


@pytest.fixture(scope="module")
def pictures() -> dict[str, bytes]:
    rng = np.random.default_rng(12)
    return {
        "jpeg": encode(draw_picture(rng, 480, 320, "gradient"), "jpeg"),
        "png": encode(draw_picture(rng, 200, 150, "blobs"), "png"),
        "webp": encode(draw_picture(rng, 200, 150, "stripes"), "webp"),
    }


@pytest.fixture(scope="module")
def signed(chain: demo.TestChain, pictures: dict[str, bytes]) -> dict[str, bytes]:
    definition = demo.manifest_definition(TITLE)
    jpeg = demo.sign_picture(pictures["jpeg"], "image/jpeg", chain, definition)
    return {
        "jpeg": jpeg,
        "png": demo.sign_picture(pictures["png"], "image/png", chain, definition),
        "tampered": demo.tamper_jpeg(jpeg),
    }


@pytest.fixture
def anchors(tmp_path: Path, chain: demo.TestChain, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test CA as the only trust anchor, through the environment variable a scan reads."""
    path = tmp_path / "anchors.pem"
    path.write_bytes(chain.ca_pem)
    monkeypatch.setenv(c2pa_read.TRUST_ANCHORS_ENV, str(path))
    return path


@pytest.fixture
def no_anchors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(c2pa_read.TRUST_ANCHORS_ENV, raising=False)


def scan(data: bytes, name: str = "x.jpg") -> FileResult:
    """Run the signal the way a scan does: the file's bytes beside the one decode (notes only on warnings)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    decoded = DecodedImage(data=data, image=image, rgb=np.asarray(image.convert("RGB")))
    result = FileResult(locator=Locator.of(name), meta=ItemMeta(size=len(data)))
    C2paSignal().apply(decoded, result, ScanSettings())
    assert bool(result.errors) == any(f.kind == "provenance_warning" for f in result.findings)
    return result


def only(result: FileResult) -> Finding:
    assert len(result.findings) == 1, result.findings
    return result.findings[0]


def jpeg_app11_at(data: bytes) -> int:
    """Where the first APP11 segment starts, by a walk of the JPEG's markers written out here."""
    pos = 2
    while data[pos + 1] != 0xEB:
        pos += 2 + struct.unpack_from(">H", data, pos + 2)[0]
    return pos


# --- the test chain ----------------------------------------------------------------------------------------------


def test_chain_is_a_ca_and_a_c2pa_signing_leaf(chain: demo.TestChain) -> None:
    from cryptography.x509.oid import ExtendedKeyUsageOID

    leaf, ca = x509.load_pem_x509_certificates(chain.chain_pem)
    assert x509.load_pem_x509_certificate(chain.ca_pem) == ca
    assert leaf.issuer == ca.subject and leaf.subject != leaf.issuer  # not self-signed
    leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    assert leaf.version == x509.Version.v3
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature is True and usage.key_cert_sign is False
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert leaf.public_key().public_bytes_raw() == chain.leaf_key.public_key().public_bytes_raw()


def test_chain_is_deterministic_per_seed() -> None:
    assert demo.make_chain(b"a").chain_pem == demo.make_chain(b"a").chain_pem
    assert demo.make_chain(b"a").chain_pem != demo.make_chain(b"b").chain_pem


# --- signed, tampered, trusted ----------------------------------------------------------------------------------


def test_signed_jpeg_without_anchors_is_valid_and_untrusted(signed: dict[str, bytes], no_anchors: None) -> None:
    data = signed["jpeg"]
    finding = only(scan(data))
    assert (finding.signal, finding.kind) == ("c2pa", "c2pa")
    assert finding.where == f"JPEG APP11 JUMBF at byte {jpeg_app11_at(data)} (1 segment)"
    d = finding.data
    assert d["checked"] is True
    assert d["validation_state"] == "Valid"
    assert d["failure_codes"] == [UNTRUSTED] and d["ingredient_failure_codes"] == []
    failures = [(v["code"], v["explanation"]) for v in d["validation"] if v["kind"] == "failure"]
    assert failures == [(UNTRUSTED, "signing certificate untrusted")]
    successes = sorted(v["code"] for v in d["validation"] if v["kind"] == "success")
    assert successes == [
        "assertion.dataHash.match",
        "assertion.hashedURI.match",
        "assertion.hashedURI.match",
        "claimSignature.insideValidity",
        "claimSignature.validated",
    ]
    label = demo.manifest_definition(TITLE)["label"]
    assert d["active_manifest"] == label and d["manifest_count"] == 1
    assert d["title"] == TITLE
    assert d["claim_generator"] == "cairn-demo 1.0"
    assert d["claim_generator_info"][0]["name"] == "cairn-demo"
    assert (d["signer_common_name"], d["signer_issuer"], d["signature_alg"]) == (
        "cairn demo signer",
        "cairn demo",
        "Ed25519",
    )
    assert d["cert_serial_number"] == str(0x51C4)
    assert d["signing_time"] is None  # signed without a time-stamp authority
    assert d["ai_generated"] is True and d["ai_in_chain"] is False
    assert d["actions"] == [
        {
            "manifest": label,
            "action": "c2pa.created",
            "digital_source_type": demo.TRAINED,
            "source_type": "trainedAlgorithmicMedia",
            "generative_ai": True,
            "software_agent": "cairn demo",
        }
    ]
    assert d["ingredients"] == [] and d["source_type_notes"] == []
    assert d["embedded"] is True and d["remote_url"] is None
    assert d["trust"] == {"anchors": "none"}
    assert d["library"].startswith("c2pa-python 0.38.")
    json.dumps(d)  # storable as it is


def test_signed_jpeg_with_the_ca_as_anchor_is_trusted(
    signed: dict[str, bytes], anchors: Path, chain: demo.TestChain
) -> None:
    d = only(scan(signed["jpeg"])).data
    assert d["validation_state"] == "Trusted"
    assert d["failure_codes"] == []
    trusted = [v for v in d["validation"] if v["code"] == "signingCredential.trusted"]
    assert len(trusted) == 1 and trusted[0]["kind"] == "success"
    import hashlib

    assert d["trust"] == {
        "anchors": "files",
        "files": [{"path": str(anchors), "sha256": hashlib.sha256(chain.ca_pem).hexdigest()}],
        "certificates": 1,
    }


def test_signed_png(signed: dict[str, bytes], anchors: Path) -> None:
    data = signed["png"]
    finding = only(scan(data, "x.png"))
    at = data.index(b"caBX") - 4
    (length,) = struct.unpack_from(">I", data, at)
    assert finding.where == f"PNG caBX chunk at byte {at} ({length} bytes)"
    assert zlib.crc32(data[at + 4 : at + 8 + length]) == struct.unpack_from(">I", data, at + 8 + length)[0]
    d = finding.data
    assert (d["validation_state"], d["failure_codes"], d["ai_generated"]) == ("Trusted", [], True)


def test_tampered_copy_reports_the_data_hash_mismatch(signed: dict[str, bytes], anchors: Path) -> None:
    assert len(signed["tampered"]) == len(signed["jpeg"]) and signed["tampered"] != signed["jpeg"]
    d = only(scan(signed["tampered"])).data
    assert d["validation_state"] == "Invalid"
    assert d["failure_codes"] == [DATA_HASH_MISMATCH]
    (entry,) = [v for v in d["validation"] if v["kind"] == "failure"]
    assert entry["url"].endswith("/c2pa.assertions/c2pa.hash.data")
    assert "Hashes do not match" in entry["explanation"]
    assert d["ai_generated"] is True  # what the manifest claims is still read, with the verdict beside it


def test_tampered_copy_without_anchors(signed: dict[str, bytes], no_anchors: None) -> None:
    d = only(scan(signed["tampered"])).data
    assert (d["validation_state"], d["failure_codes"]) == ("Invalid", [UNTRUSTED, DATA_HASH_MISMATCH])


def test_another_ca_does_not_make_it_trusted(
    signed: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(demo.make_chain(b"someone else").ca_pem)
    monkeypatch.setenv(c2pa_read.TRUST_ANCHORS_ENV, str(other))
    d = only(scan(signed["jpeg"])).data
    assert (d["validation_state"], d["failure_codes"]) == ("Valid", [UNTRUSTED])
    assert d["trust"]["anchors"] == "files"


def test_unreadable_anchor_file_is_recorded(
    signed: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing.pem"
    monkeypatch.setenv(c2pa_read.TRUST_ANCHORS_ENV, str(missing))
    d = only(scan(signed["jpeg"])).data
    assert d["trust"]["anchors"] == "error" and d["trust"]["path"] == str(missing)
    assert (d["validation_state"], d["failure_codes"]) == ("Valid", [UNTRUSTED])


# --- what the actions say ---------------------------------------------------------------------------------------


def test_algorithmic_media_is_not_generative_ai(
    chain: demo.TestChain, pictures: dict[str, bytes], anchors: Path
) -> None:
    definition = demo.manifest_definition("a tiling pattern", demo.ALGORITHMIC)
    d = only(scan(demo.sign_picture(pictures["jpeg"], "image/jpeg", chain, definition))).data
    assert d["validation_state"] == "Trusted"
    assert d["ai_generated"] is False
    assert [(a["source_type"], a["generative_ai"]) for a in d["actions"]] == [("algorithmicMedia", False)]
    assert d["source_type_notes"] == [c2pa_read.NON_GENERATIVE_NOTES["algorithmicMedia"]]


def test_edit_with_ingredient_chain(chain: demo.TestChain, pictures: dict[str, bytes], anchors: Path) -> None:
    parent_def = demo.manifest_definition(TITLE, label_seed=b"parent")
    parent = demo.sign_picture(pictures["jpeg"], "image/jpeg", chain, parent_def)
    edit = demo.manifest_definition("a red bicycle, sky replaced", demo.COMPOSITE_TRAINED, "c2pa.edited", b"edit")
    edit["assertions"][0]["data"]["actions"].insert(
        0, {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}
    )
    ingredient = {"title": "bicycle.jpg", "relationship": "parentOf", "label": "parent"}
    data = demo.sign_picture(
        pictures["jpeg"], "image/jpeg", chain, edit, salt_seed=None, parent=(parent, "image/jpeg", ingredient)
    )
    d = only(scan(data)).data
    assert (d["validation_state"], d["failure_codes"], d["ingredient_failure_codes"]) == ("Trusted", [], [])
    assert d["active_manifest"] == edit["label"] and d["manifest_count"] == 2
    assert d["ai_generated"] is True and d["ai_in_chain"] is True
    assert [(a["manifest"], a["action"], a["source_type"], a["generative_ai"]) for a in d["actions"]] == [
        (edit["label"], "c2pa.edited", "compositeWithTrainedAlgorithmicMedia", True),
        (parent_def["label"], "c2pa.created", "trainedAlgorithmicMedia", True),
    ]
    # The parent was added by a Builder without anchors: it recorded the parent's signer as untrusted then.
    assert d["ingredients"] == [
        {
            "parent": edit["label"],
            "depth": 1,
            "title": "bicycle.jpg",
            "format": "image/jpeg",
            "relationship": "parentOf",
            "manifest": parent_def["label"],
            "manifest_present": True,
            "codes_at_signing": [UNTRUSTED],
        }
    ]


def test_edited_without_opened_first_is_malformed(
    chain: demo.TestChain, pictures: dict[str, bytes], anchors: Path
) -> None:
    definition = demo.manifest_definition("x", demo.COMPOSITE_TRAINED, "c2pa.edited")
    d = only(scan(demo.sign_picture(pictures["jpeg"], "image/jpeg", chain, definition))).data
    assert (d["validation_state"], d["failure_codes"]) == ("Invalid", ["assertion.action.malformed"])
    (entry,) = [v for v in d["validation"] if v["kind"] == "failure"]
    assert entry["explanation"] == "first action must be created or opened"


# --- hostile and absent ----------------------------------------------------------------------------------------


def _app11(payload: bytes) -> bytes:
    return b"\xff\xeb" + struct.pack(">H", len(payload) + 2) + payload


def _store_box(declared: int | None, extra: bytes = b"") -> bytes:
    body = struct.pack(">I4s", 0x1E, b"jumd") + c2pa_read.C2PA_STORE_UUID + b"\x03c2pa\x00" + extra
    return struct.pack(">I4s", 8 + len(body) if declared is None else declared, b"jumb") + body


#: Broken stores and what c2pa-rs 0.91 says of them: a box longer than the data is not taken for a store at
#: all (the library then looks for a remote reference in XMP and finds none); garbage after a good description
#: box is an invalid box header.
BROKEN = [
    ("truncated", _store_box(5000), ("C2paOther", "Other: C2PA provenance not found in XMP")),
    ("huge length", _store_box(0xFFFFFFF0), ("C2paOther", "Other: C2PA provenance not found in XMP")),
    ("garbage", _store_box(None, bytes(range(256)) * 2), ("C2paVerify", "Verify: invalid box header")),
]


@pytest.mark.parametrize(("case", "box", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_store_in_jpeg_is_a_warning(
    case: str, box: bytes, expected: tuple[str, str], pictures: dict[str, bytes], no_anchors: None
) -> None:
    jpeg = pictures["jpeg"]
    data = jpeg[:2] + _app11(b"JP\x00\x01\x00\x00\x00\x01" + box) + jpeg[2:]
    result = scan(data)
    finding = only(result)
    assert (finding.signal, finding.kind) == ("c2pa", "provenance_warning")
    assert finding.where == "JPEG APP11 JUMBF at byte 2 (1 segment)"
    assert finding.data["carrier"] == "c2pa"
    assert (finding.data["error"], finding.data["message"]) == expected
    assert [e.code for e in result.errors] == ["provenance_unreadable"]
    assert result.errors[0].message.startswith(
        f"C2PA manifest store ({finding.where}) could not be read: {expected[0]}"
    )


@pytest.mark.parametrize(("case", "box", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_store_in_png_is_a_warning(
    case: str, box: bytes, expected: tuple[str, str], pictures: dict[str, bytes], no_anchors: None
) -> None:
    png = pictures["png"]
    chunk = struct.pack(">I", len(box)) + b"caBX" + box + struct.pack(">I", zlib.crc32(b"caBX" + box))
    finding = only(scan(png[:33] + chunk + png[33:], "x.png"))
    assert finding.kind == "provenance_warning"
    assert finding.where == f"PNG caBX chunk at byte 33 ({len(box)} bytes)"
    assert (finding.data["error"], finding.data["message"]) == expected


def test_damaged_signed_store_is_a_warning(signed: dict[str, bytes], no_anchors: None) -> None:
    data = signed["jpeg"]
    at = jpeg_app11_at(data)
    damaged = data[: at + 200] + b"\x00" * 64 + data[at + 264 :]
    finding = only(scan(damaged))
    assert finding.kind == "provenance_warning" and finding.data["error"] == "C2paVerify"


def test_pictures_without_a_store_cost_a_walk_and_store_nothing(pictures: dict[str, bytes]) -> None:
    for name, data in pictures.items():
        assert c2pa_read.locate_manifest(data) is None, name
        assert scan(data, f"x.{name}").findings == []


def test_store_type_in_jpeg_scan_data_is_not_a_store(pictures: dict[str, bytes]) -> None:
    """Only APP11 segments before the scan count in a well-formed JPEG: the same 16 bytes in the entropy-coded
    data (where a picture's bytes may hold anything) are not searched for."""
    jpeg = pictures["jpeg"]
    data = jpeg[:-2] + c2pa_read.C2PA_STORE_UUID + jpeg[-2:]
    assert c2pa_read.locate_manifest(data) is None


def test_other_containers_are_searched_for_the_store_type(pictures: dict[str, bytes]) -> None:
    webp = pictures["webp"]
    box = _store_box(None)
    data = webp + box
    loc = c2pa_read.locate_manifest(data)
    assert loc is not None and loc.offset == len(webp) and loc.where == f"JUMBF manifest store at byte {len(webp)}"


@pytest.mark.parametrize(("fmt", "mime"), [("jpeg", "image/jpeg"), ("png", "image/png")])
def test_remote_store_is_recorded_and_never_fetched(
    fmt: str, mime: str, chain: demo.TestChain, pictures: dict[str, bytes], no_anchors: None
) -> None:
    """The library's own writer puts the URL into the picture's XMP; the scan records it, fetching nothing (a
    read through the same offline settings refuses to fetch: proof that they hold)."""
    url = "http://127.0.0.1:9/manifests/bicycle.c2pa"
    data = demo.sign_picture(pictures[fmt], mime, chain, demo.manifest_definition(TITLE), remote_url=url)
    finding = only(scan(data, f"x.{fmt}"))
    assert finding.kind == "c2pa"
    assert finding.data == {
        "checked": False,
        "reason": "the manifest store is remote (XMP dcterms:provenance); cairn reads offline and did not fetch it",
        "xmp_provenance": url,
        "remote_url": url,
        "embedded": False,
    }
    if fmt == "jpeg":
        at = data.index(b"http://ns.adobe.com/xap/1.0/\x00") - 4
        assert finding.where == f"JPEG APP1 XMP at byte {at} (dcterms:provenance)"
    else:
        at = data.index(b"iTXtXML:com.adobe.xmp") - 4
        assert finding.where == f"PNG iTXt XML:com.adobe.xmp chunk at byte {at} (dcterms:provenance)"
    with pytest.raises(c2pa.C2paError, match=f"Remote: must fetch remote manifests from url {url}"):
        c2pa_read.read_manifest(data, mime, c2pa_read.TrustConfig(None, {"anchors": "none"}))


def test_stripped_store_named_by_xmp(pictures: dict[str, bytes]) -> None:
    """XMP that still names an embedded store (``self#jumbf=``) in a file that no longer holds it."""
    ref = "self#jumbf=/c2pa/urn:c2pa:0000/c2pa.claim"
    xmp = (
        b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><rdf:Description "
        b"xmlns:dcterms='http://purl.org/dc/terms/' dcterms:provenance='" + ref.encode() + b"'/></rdf:RDF></x:xmpmeta>"
    )
    jpeg = pictures["jpeg"]
    data = jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp + jpeg[2:]
    finding = only(scan(data))
    assert finding.where == "JPEG APP1 XMP at byte 2 (dcterms:provenance)"
    assert finding.data["checked"] is False and finding.data["remote_url"] is None
    assert finding.data["xmp_provenance"] == ref
    assert "removed after signing" in finding.data["reason"]


def test_summarize_is_bounded_and_shape_tolerant() -> None:
    """A store whose fields have the wrong types, and an ingredient chain that loops, read without a crash."""
    store: dict[str, Any] = {
        "active_manifest": "a",
        "manifests": {
            "a": {"ingredients": [{"title": "b", "active_manifest": "b"}, 7, "x"], "assertions": "nope"},
            "b": {"ingredients": [{"title": "a", "active_manifest": "a"}], "signature_info": [1, 2]},
        },
        "validation_status": [{"code": 5}, None, {"code": "x" * 5000}],
        "validation_results": {"activeManifest": {"failure": "nope"}},
    }
    d = c2pa_read.summarize(store)
    assert [(i["title"], i["depth"]) for i in d["ingredients"]] == [("b", 1), ("a", 2)]
    assert d["failure_codes"] == ["5", "x" * 1024]
    assert d["signer_common_name"] is None and d["ai_generated"] is False


def test_without_the_library_the_finding_says_not_checked(signed: dict[str, bytes], tmp_path: Path) -> None:
    """A Python that cannot import c2pa (as where it is not installed) still finds the store and says so."""
    path = tmp_path / "signed.jpg"
    path.write_bytes(signed["jpeg"])
    code = f"""
import io, json, sys
sys.modules["c2pa"] = None  # import c2pa now raises ImportError, as without the package
import numpy as np
from PIL import Image
from cairn.model import FileResult, ItemMeta, Locator
from cairn.settings import ScanSettings
from cairn.signals.base import DecodedImage
from cairn.signals.c2pa_manifest import C2paSignal
data = open({str(path)!r}, "rb").read()
image = Image.open(io.BytesIO(data)); image.load()
result = FileResult(locator=Locator.of("x.jpg"), meta=ItemMeta(size=len(data)))
C2paSignal().apply(DecodedImage(data, image, np.asarray(image)), result, ScanSettings())
print(json.dumps([[f.kind, f.data, f.where] for f in result.findings]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [
        [
            "c2pa",
            {
                "checked": False,
                "reason": "c2pa-python is not installed: C2PA was not checked",
                "install_hint": c2pa_read.INSTALL_HINT,
            },
            f"JPEG APP11 JUMBF at byte {jpeg_app11_at(signed['jpeg'])} (1 segment)",
        ]
    ]


# --- the demo writer ---------------------------------------------------------------------------------------------


def test_demo_writer_is_deterministic_and_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = demo.write_c2pa(tmp_path / "a")
    first = {p.name: p.read_bytes() for p in paths}
    assert sorted(first) == sorted([demo.SIGNED_JPEG, demo.SIGNED_PNG, demo.TAMPERED_JPEG])
    assert {p.name: p.read_bytes() for p in demo.write_c2pa(tmp_path / "b")} == first
    other = demo.c2pa_samples(b"another seed")
    assert all(other[name] != first[name] for name in first)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(demo.demo_chain().ca_pem)
    monkeypatch.setenv(c2pa_read.TRUST_ANCHORS_ENV, str(ca))
    results = {name: only(scan(data, name)).data for name, data in first.items()}
    assert {n: (d["validation_state"], d["failure_codes"], d["ai_generated"]) for n, d in results.items()} == {
        demo.SIGNED_JPEG: ("Trusted", [], True),
        demo.SIGNED_PNG: ("Trusted", [], True),
        demo.TAMPERED_JPEG: ("Invalid", [DATA_HASH_MISMATCH], True),
    }
    assert list(demo.WRITERS) == [demo.write_c2pa]
