"""python3-saml, xmlsec and lxml are pinned together: their libxml2 must be the same, or
`import xmlsec` breaks (or signatures silently fail). Sign and verify a document to be sure."""

from __future__ import annotations

import pytest
import xmlsec
from lxml import etree

from tests.auth.idp import make_keypair

DOCUMENT = b"""<Envelope xmlns="urn:envelope" ID="doc"><Data>hello</Data>
<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>
<CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
<SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
<Reference URI="#doc"><Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
</Transforms><DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><DigestValue/></Reference>
</SignedInfo><SignatureValue/></Signature></Envelope>"""


def test_lxml_and_xmlsec_use_the_same_libxml2() -> None:
    assert xmlsec.get_libxml_version() == etree.LIBXML_VERSION
    assert xmlsec.get_libxml_compiled_version() == etree.LIBXML_COMPILED_VERSION


def test_xmlsec_signs_and_verifies() -> None:
    keys = make_keypair("xmlsec-test")
    root = etree.fromstring(DOCUMENT)
    xmlsec.tree.add_ids(root, ["ID"])
    signature = xmlsec.tree.find_node(root, xmlsec.constants.NodeSignature)
    signer = xmlsec.SignatureContext()
    signer.key = xmlsec.Key.from_memory(keys.key_pem.encode(), xmlsec.constants.KeyDataFormatPem)
    signer.sign(signature)
    assert signature.findtext("{http://www.w3.org/2000/09/xmldsig#}SignatureValue")

    signed = etree.fromstring(etree.tostring(root))
    xmlsec.tree.add_ids(signed, ["ID"])
    verifier = xmlsec.SignatureContext()
    verifier.key = xmlsec.Key.from_memory(keys.cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
    verifier.verify(xmlsec.tree.find_node(signed, xmlsec.constants.NodeSignature))

    signed.find("{urn:envelope}Data").text = "tampered"
    with pytest.raises(xmlsec.Error):
        verifier.verify(xmlsec.tree.find_node(signed, xmlsec.constants.NodeSignature))
