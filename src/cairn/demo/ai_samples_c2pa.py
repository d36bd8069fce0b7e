"""Benign C2PA-signed demo pictures: a test certificate chain, signing with ``c2pa.Builder``, a tampered copy.

The chain is made here with ``cryptography``: a CA (basic constraints CA, keyCertSign, subject key identifier)
and a leaf signed by it with what C2PA's certificate profile asks of a signer (v3, not a CA, digitalSignature
key usage, the emailProtection extended key usage, authority key identifier), both Ed25519. The keys are
derived from the demo seed and the validity times and serials are fixed, so the same seed gives the same chain.

Determinism: Ed25519 signatures are deterministic, but c2pa-rs salts every assertion with 16 random bytes
(a ``c2sh`` box: no setting turns it off), and the salts enter the assertions' hashes in the claim and so the
signature. :func:`sign_picture` therefore rewrites the salts with bytes derived from the seed, puts the new
assertion hashes into the claim and signs the claim again with the same key (same lengths, so the data hash
of the picture and every offset stay as they were). The result is an ordinary manifest store that c2pa-rs
validates; the tests check that it does. The bytes are the same run to run and machine to machine for one
c2pa-python version; another version may write another store (c2pa-rs puts its own version into
``claim_generator_info``). Like the other AI samples, the demo's are fixed (``DEMO_SEED``), whatever
``cairn demo --seed`` says.

Nothing here makes anything but gradients and shapes; titles are benign ("a red bicycle on a beach").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cairn.demo.pictures import draw_picture, encode

log = logging.getLogger(__name__)

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE_TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
ALGORITHMIC = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"

GENERATOR = {"name": "cairn-demo", "version": "1.0"}
NOT_BEFORE = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
#: Validity ends far ahead: without a time-stamp c2pa-rs checks the signer's certificate at the time of reading.
NOT_AFTER = dt.datetime(2099, 12, 31, tzinfo=dt.UTC)


@dataclass(frozen=True)
class TestChain:
    """A CA and a C2PA signing leaf: PEM texts, and the leaf's private key object for signing."""

    ca_pem: bytes
    chain_pem: bytes  # leaf first, then the CA (what a C2PA signer embeds)
    key_pem: bytes
    leaf_key: Any  # cryptography's Ed25519PrivateKey

    __test__ = False  # not a pytest class


def _seed_bytes(seed: int | bytes, purpose: str) -> bytes:
    raw = seed if isinstance(seed, bytes) else str(seed).encode("ascii")
    return hashlib.sha256(b"cairn-demo-c2pa/" + purpose.encode("ascii") + b"/" + raw).digest()


def make_chain(
    seed: int | bytes, ca_name: str = "cairn demo test CA", signer_name: str = "cairn demo signer"
) -> TestChain:
    """A deterministic Ed25519 CA and leaf for ``seed`` (needs ``cryptography``, which c2pa-python brings)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key = ed25519.Ed25519PrivateKey.from_private_bytes(_seed_bytes(seed, "ca"))
    leaf_key = ed25519.Ed25519PrivateKey.from_private_bytes(_seed_bytes(seed, "leaf"))
    org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cairn demo")
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name), org])
    leaf_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, signer_name), org])

    def usage(sign: bool, cert_sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=cert_sign,
            crl_sign=cert_sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(0x0CA1)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(sign=False, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, None)
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(leaf_subject)
        .issuer_name(ca_subject)
        .public_key(leaf_key.public_key())
        .serial_number(0x51C4)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=True, cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, None)
    )
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return TestChain(ca.public_bytes(pem), leaf.public_bytes(pem) + ca.public_bytes(pem), key_pem, leaf_key)


def manifest_definition(
    title: str, source_type: str = TRAINED, action: str = "c2pa.created", label_seed: bytes = b"cairn"
) -> dict[str, Any]:
    """A manifest with one ``c2pa.actions`` assertion: ``action`` with ``source_type``; label and instance id
    fixed from ``label_seed`` (c2pa-rs would pick random ones)."""
    h = hashlib.sha256(b"cairn-demo-c2pa/label/" + label_seed).hexdigest()
    uuid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
    return {
        "claim_generator_info": [GENERATOR],
        "title": title,
        "label": f"urn:c2pa:{uuid}",
        "instance_id": f"xmp:iid:{uuid}",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {"action": action, "digitalSourceType": source_type, "softwareAgent": {"name": "cairn demo"}}
                    ]
                },
            }
        ],
    }


_SIGN_SETTINGS = {
    "verify": {"verify_after_sign": False, "remote_manifest_fetch": False, "ocsp_fetch": False},
    "core": {"allowed_network_hosts": []},
    "builder": {"thumbnail": {"enabled": False}},
}


def sign_picture(
    data: bytes,
    mime: str,
    chain: TestChain,
    definition: dict[str, Any],
    salt_seed: bytes | None = b"cairn",
    parent: tuple[bytes, str, dict[str, Any]] | None = None,
    remote_url: str | None = None,
) -> bytes:
    """``data`` (a JPEG or PNG) signed by ``chain``'s leaf with ``definition`` through ``c2pa.Builder``.

    With ``salt_seed`` the library's random assertion salts are replaced by ones derived from it and the claim
    is signed again (see the module's note), so the output is byte-for-byte reproducible; None keeps the
    library's random salts. ``parent`` = (bytes, MIME type, ingredient JSON) adds an ingredient (its manifest
    comes along); it needs ``salt_seed=None``, since the ingredient assertion holds hashes of the parent's boxes.
    ``remote_url`` embeds no store: the picture's XMP names the URL (``dcterms:provenance``) and the store is
    only returned by the library, not kept (salts then do not matter).
    """
    import c2pa

    if parent is not None and salt_seed is not None:
        raise ValueError("a picture with an ingredient is signed with the library's own salts (salt_seed=None)")

    calls: list[bytes] = []

    def sign(tbs: bytes) -> bytes:
        calls.append(bytes(tbs))
        return bytes(chain.leaf_key.sign(bytes(tbs)))

    with (
        c2pa.Context.from_dict(_SIGN_SETTINGS) as context,
        c2pa.Signer.from_callback(sign, c2pa.C2paSigningAlg.ED25519, chain.chain_pem.decode("ascii"), None) as signer,
        c2pa.Builder(definition, context) as builder,
    ):
        if parent is not None:
            builder.add_ingredient(parent[2], parent[1], io.BytesIO(parent[0]))
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        out = io.BytesIO()
        store = builder.sign(signer, mime, io.BytesIO(data), out)
    signed = out.getvalue()
    if salt_seed is None or remote_url is not None:
        return signed
    return _resalt(signed, bytes(store), calls[-1], chain.leaf_key.sign, salt_seed)


# --- fixed salts -------------------------------------------------------------------------------------------------


def _box_children(buf: bytearray, start: int, end: int) -> list[tuple[int, bytes, int, int]]:
    """(box start, type, payload start, box end) of the boxes in ``buf[start:end]``."""
    out = []
    pos = start
    while pos + 8 <= end:
        size, btype = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"bad JUMBF box at {pos}")
        out.append((pos, btype, pos + header, pos + size))
        pos += size
    return out


def _describe(buf: bytearray, payload: int, end: int) -> tuple[str, tuple[int, int] | None]:
    """A superbox's label and the byte range of its salt (the ``c2sh`` private box's payload), if any."""
    children = _box_children(buf, payload, end)
    if not children or children[0][1] != b"jumd":
        raise ValueError("JUMBF superbox without a description box")
    _s, _t, p, e = children[0]
    toggles = buf[p + 16]
    q = p + 17
    label = ""
    if toggles & 0x02:
        z = buf.index(0, q, e)
        label = buf[q:z].decode("utf-8")
        q = z + 1
    if toggles & 0x04:
        q += 4
    if toggles & 0x08:
        q += 32
    salt = None
    if toggles & 0x10:
        for _bs, btype, bp, be in _box_children(buf, q, e):
            if btype == b"c2sh":
                salt = (bp, be)
    return label, salt


def _resalt(signed: bytes, store: bytes, tbs: bytes, sign: Callable[[bytes], bytes], seed: bytes) -> bytes:
    """``signed`` with its manifest store's salts derived from ``seed``, hashes and signature made anew."""
    at = signed.find(store)
    if at < 0 or signed.find(store, at + 1) >= 0:
        raise ValueError("the manifest store is not one contiguous run of the signed file")
    buf = bytearray(store)
    (root,) = _box_children(buf, 0, len(buf))
    for _ms, mtype, mp, me in _box_children(buf, root[2], root[3])[1:]:
        if mtype != b"jumb":
            continue
        parts = {_describe(buf, p, e)[0]: (p, e) for _s, t, p, e in _box_children(buf, mp, me)[1:] if t == b"jumb"}
        claim_label = next(k for k in parts if k.startswith("c2pa.claim"))
        claim_box = _box_children(buf, *parts[claim_label])[1]
        sig_box = _box_children(buf, *parts["c2pa.signature"])[1]
        old_claim = bytes(buf[claim_box[2] : claim_box[3]])
        replacements: list[tuple[bytes, bytes]] = []
        for _as, atype, ap, ae in _box_children(buf, *parts["c2pa.assertions"])[1:]:
            if atype != b"jumb":
                continue
            label, salt = _describe(buf, ap, ae)
            if salt is None:
                continue
            old = hashlib.sha256(buf[ap:ae]).digest()
            fresh = hashlib.sha256(b"cairn-demo-c2pa/salt/" + seed + b"/" + label.encode("utf-8")).digest()
            buf[salt[0] : salt[1]] = (fresh * 2)[: salt[1] - salt[0]]
            replacements.append((old, hashlib.sha256(buf[ap:ae]).digest()))
        new_claim = old_claim
        for old, new in replacements:
            if new_claim.count(old) != 1 or bytes(buf).count(old) != 1:
                raise ValueError("an assertion hash is not referenced exactly once, by the claim")
            new_claim = new_claim.replace(old, new)
        buf[claim_box[2] : claim_box[3]] = new_claim
        if tbs.count(old_claim) != 1:
            raise ValueError("the signed bytes do not hold the claim")
        old_sig, new_sig = sign(tbs), sign(tbs.replace(old_claim, new_claim))
        sig_area = bytes(buf[sig_box[2] : sig_box[3]])
        if sig_area.count(old_sig) != 1:
            raise ValueError("the claim signature is not where it was expected")
        buf[sig_box[2] : sig_box[3]] = sig_area.replace(old_sig, new_sig)
    out = bytearray(signed)
    out[at : at + len(buf)] = buf
    if signed.startswith(b"\x89PNG") and out[at - 4 : at] == b"caBX":  # the chunk's CRC covers type and data
        out[at + len(buf) : at + len(buf) + 4] = struct.pack(">I", zlib.crc32(out[at - 4 : at + len(buf)]))
    return bytes(out)


def tamper_jpeg(data: bytes, count: int = 8) -> bytes:
    """A copy of the JPEG ``data`` with ``count`` bytes of its entropy-coded scan data inverted (the picture's
    content changes; no marker or manifest byte does)."""
    sos = data.rfind(b"\xff\xda")
    if sos < 0:
        raise ValueError("no scan data in this JPEG")
    start = sos + 2 + struct.unpack_from(">H", data, sos + 2)[0]
    out = bytearray(data)
    done = 0
    pos = start + 16
    while done < count and pos < len(out) - 2:
        if out[pos] not in (0xFF, 0x00) and out[pos - 1] != 0xFF and (out[pos] ^ 0x5A) not in (0xFF, 0x00):
            out[pos] ^= 0x5A
            done += 1
            pos += 7
        pos += 1
    return bytes(out)


# --- the demo writer ---------------------------------------------------------------------------------------------


def c2pa_available() -> bool:
    try:
        import c2pa  # noqa: F401
        import cryptography  # noqa: F401
    except Exception:
        return False
    return True


#: The seed of the demo's chain and pictures (the AI-samples hook passes none: every sample is fixed).
DEMO_SEED = b"cairn demo"
SIGNED_JPEG = "c2pa_bicycle_signed.jpg"
SIGNED_PNG = "c2pa_bicycle_signed.png"
TAMPERED_JPEG = "c2pa_bicycle_signed_edited.jpg"


def demo_chain(seed: bytes = DEMO_SEED) -> TestChain:
    """The demo's chain: ``demo_chain().ca_pem`` written to a file and named by ``CAIRN_C2PA_TRUST_ANCHORS``
    makes the demo's signed pictures ``Trusted``."""
    return make_chain(seed)


def c2pa_samples(seed: bytes = DEMO_SEED) -> dict[str, bytes]:
    """The demo's C2PA pictures by file name: a signed JPEG and PNG declaring trainedAlgorithmicMedia and a copy
    of the JPEG with changed scan data (its data hash no longer matches). Same seed, same bytes."""
    rng = np.random.default_rng(list(hashlib.sha256(b"cairn-demo-c2pa/pictures/" + seed).digest()[:8]))
    chain = make_chain(seed)
    jpeg = encode(draw_picture(rng, 640, 480, "gradient"), "jpeg")
    png = encode(draw_picture(rng, 320, 240, "blobs"), "png")
    title = "a red bicycle on a beach"
    signed_jpeg = sign_picture(jpeg, "image/jpeg", chain, manifest_definition(title, label_seed=seed + b"/jpeg"), seed)
    signed_png = sign_picture(png, "image/png", chain, manifest_definition(title, label_seed=seed + b"/png"), seed)
    return {SIGNED_JPEG: signed_jpeg, SIGNED_PNG: signed_png, TAMPERED_JPEG: tamper_jpeg(signed_jpeg)}


def write_c2pa(folder: Path) -> list[Path]:
    """The AI-samples hook's writer: :func:`c2pa_samples` into ``folder``; nothing (with a logged note) where
    c2pa-python is not installed."""
    if not c2pa_available():
        log.warning("demo: c2pa-python is not installed; no C2PA-signed pictures written")
        return []
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in c2pa_samples().items():
        path = folder / name
        with open(path, "xb") as fh:
            fh.write(data)
        paths.append(path)
    return paths


#: The writers for the demo's AI-samples hook (``cairn.demo.ai_samples.WRITERS``), ``(folder) -> [paths]``.
WRITERS: tuple[Callable[[Path], list[Path]], ...] = (write_c2pa,)
