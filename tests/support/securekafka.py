"""A local Kafka broker that lets only authenticated, encrypted clients in: a SASL_SSL listener
(SCRAM-SHA-512) whose certificate comes from a throwaway CA made for the test run.

The broker also keeps a loopback PLAINTEXT listener: localkafka's readiness probe and the
broker's own inter-broker traffic use it. Clients are given only the SASL_SSL address, and
Kafka answers metadata with the addresses of the listener a client came in on, so a client
that starts on SASL_SSL stays on it.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Certificates:
    ca: Path  # what clients trust (NEWSFLOW_KAFKA_SSL_CAFILE)
    broker_keystore: Path  # the broker's key and certificate chain, PEM


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(folder: Path, host: str = "127.0.0.1") -> Certificates:
    """A CA and a broker certificate it signed, valid for `host` (and localhost), for a day."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    valid = {"not_valid_before": now - datetime.timedelta(minutes=5)}
    valid["not_valid_after"] = now + datetime.timedelta(days=1)

    ca_key = _key()
    ca_cert = (
        x509.CertificateBuilder(**valid)
        .subject_name(_name("newsflow test CA"))
        .issuer_name(_name("newsflow test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    broker_key = _key()
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    broker_cert = (
        x509.CertificateBuilder(**valid)
        .subject_name(_name(host))
        .issuer_name(ca_cert.subject)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    ca_path = folder / "ca.crt"
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    keystore = folder / "broker.pem"
    # Kafka's PEM keystore: an unencrypted PKCS#8 key, then the chain from the broker up.
    keystore.write_bytes(
        broker_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        + broker_cert.public_bytes(pem)
        + ca_cert.public_bytes(pem)
    )
    keystore.chmod(0o600)
    return Certificates(ca=ca_path, broker_keystore=keystore)


@dataclass(frozen=True)
class SecureBroker:
    bootstrap: str  # the SASL_SSL listener: the only address clients are given
    certificates: Certificates
    username: str
    password: str


def start(
    localkafka: ModuleType,
    home: Path,
    plaintext_port: int,
    controller_port: int,
    secure_port: int,
    username: str,
    password: str,
    host: str = "127.0.0.1",
):
    """Start a broker whose only client listener is SASL_SSL with one SCRAM user.

    Returns the LocalKafka (to stop it) and the SecureBroker clients need."""
    certificates = make_certificates(home / "tls", host)
    broker = localkafka.LocalKafka(
        home=home, port=plaintext_port, controller_port=controller_port, host=host
    )
    listeners = (
        f"PLAINTEXT://{host}:{plaintext_port},CONTROLLER://{host}:{controller_port},"
        f"SASL_SSL://{host}:{secure_port}"
    )
    broker.start(
        extra_properties={
            "listeners": listeners,
            "advertised.listeners": f"PLAINTEXT://{host}:{plaintext_port},"
            f"SASL_SSL://{host}:{secure_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(certificates.broker_keystore),
            "ssl.client.auth": "none",
        },
        # The user exists from the first start: KRaft stores SCRAM credentials in its
        # metadata log, written when the storage is formatted.
        format_args=["--add-scram", f"{MECHANISM}=[name={username},password={password}]"],
    )
    return broker, SecureBroker(f"{host}:{secure_port}", certificates, username, password)
