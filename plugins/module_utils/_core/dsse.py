# Private to this collection.
"""DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1), without any crypto.

    PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body

LEN is the byte length in ASCII decimal. A signer signs PAE(payloadType, payload); the envelope holds
the payload and the signatures base64-encoded:

    {"payload": "<base64>", "payloadType": "application/vnd.in-toto+json",
     "signatures": [{"keyid": "<hex>", "sig": "<base64>"}]}
"""

from __future__ import annotations

import base64
import binascii

PAYLOAD_TYPE = "application/vnd.in-toto+json"


class EnvelopeError(ValueError):
    """The envelope is not a well-formed DSSE envelope."""


def pae(payload_type, payload):
    """The Pre-Authentication Encoding of DSSE v1: the bytes that are actually signed."""
    if isinstance(payload_type, str):
        payload_type = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(payload), payload)


def b64encode(data):
    return base64.b64encode(data).decode("ascii")


def b64decode(text, what):
    """Standard or URL-safe base64, padded or not: DSSE verifiers accept both alphabets."""
    if not isinstance(text, str):
        raise EnvelopeError("%s is not a base64 string" % what)
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError("%s is not valid base64" % what) from None


def envelope(payload, signatures, payload_type=PAYLOAD_TYPE):
    """An envelope dict for ``payload`` (bytes) and ``signatures`` [(keyid, signature bytes)]."""
    return {
        "payload": b64encode(payload),
        "payloadType": payload_type,
        "signatures": [{"keyid": keyid, "sig": b64encode(signature)} for keyid, signature in signatures],
    }


class ParsedEnvelope:
    def __init__(self, payload_type, payload, signatures):
        self.payload_type = payload_type
        self.payload = payload
        self.signatures = signatures  # [(keyid or "", signature bytes)]

    def pae(self):
        return pae(self.payload_type, self.payload)


def parse(document):
    if not isinstance(document, dict):
        raise EnvelopeError("a DSSE envelope is a JSON object")
    payload_type = document.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise EnvelopeError("the envelope has no payloadType")
    payload = b64decode(document.get("payload"), "payload")
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise EnvelopeError("the envelope has no signatures")
    parsed = []
    for index, entry in enumerate(signatures):
        if not isinstance(entry, dict):
            raise EnvelopeError("signature %d is not an object" % index)
        keyid = entry.get("keyid") or ""
        if not isinstance(keyid, str):
            raise EnvelopeError("signature %d has a keyid that is not a string" % index)
        parsed.append((keyid, b64decode(entry.get("sig"), "signature %d" % index)))
    return ParsedEnvelope(payload_type, payload, parsed)
