"""Namespace URIs, message identifiers and schema file names for ESMA MiFIR reporting.

One module holds every namespace so that a schema upgrade (ESMA publishes a new usage
guideline, or the MiFIR review brings auth.016.001.02) is a change here rather than a hunt
through the writer and the validator. The schema files themselves are never copied into the
repository: `regreport.config.Settings.schemas_dir` points at a folder of ESMA's files, and this
module only knows their names.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Business data envelope (`BizData`): the root element of a file sent to an NCA.
NS_HEAD003 = "urn:iso:std:iso:20022:tech:xsd:head.003.001.01"
#: Business application header (`AppHdr`), carried in `BizData/Hdr`.
NS_HEAD001 = "urn:iso:std:iso:20022:tech:xsd:head.001.001.01"
#: Transaction report (`Document/FinInstrmRptgTxRpt`), usage guideline 1.1.0 (production).
NS_AUTH016 = "urn:iso:std:iso:20022:tech:xsd:auth.016.001.01"
#: The same message in the superseded 2017 draft namespace, still written by many tools.
NS_AUTH016_DRAFT15 = "urn:iso:std:iso:20022:tech:xsd:DRAFT15auth.016.001.01"

#: `AppHdr/MsgDefIdr` of a transaction report: the ISO 20022 message identifier.
MSG_DEF_IDR_AUTH016 = "auth.016.001.01"

#: The usage-guideline version the platform writes unless configured otherwise.
DEFAULT_SCHEMA_VERSION = "1.1.0"


@dataclass(frozen=True)
class SchemaSet:
    """The three XSD files that together describe one version of a submission file.

    Attributes:
        version: ESMA usage-guideline version of the auth.016 payload, e.g. "1.1.0".
        head003: File name of the `BizData` envelope schema.
        head001: File name of the ESMA usage guideline of the `AppHdr` schema.
        auth016: File name of the auth.016 transaction report schema.
        auth016_namespace: Target namespace of `auth016`; the writer uses it for `Document`.
    """

    version: str
    head003: str
    head001: str
    auth016: str
    auth016_namespace: str

    @property
    def file_names(self) -> tuple[str, str, str]:
        """All file names, in the order the driver schema imports them."""
        return (self.head003, self.head001, self.auth016)

    @property
    def namespaces(self) -> tuple[str, str, str]:
        """Target namespaces matching `file_names` one to one."""
        return (NS_HEAD003, NS_HEAD001, self.auth016_namespace)


#: Schema sets by the version string used in configuration (`schema_version`).
SCHEMA_SETS: dict[str, SchemaSet] = {
    "1.1.0": SchemaSet(
        version="1.1.0",
        head003="head.003.001.01.xsd",
        head001="head.001.001.01_ESMAUG_1.0.0.xsd",
        auth016="auth.016.001.01_ESMAUG_Reporting_1.1.0.xsd",
        auth016_namespace=NS_AUTH016,
    ),
    # The 2017 draft: same element paths, other namespace. Kept so that files produced by
    # older tools (and back-reporting) can be validated, not for new submissions.
    "1.0.3": SchemaSet(
        version="1.0.3",
        head003="head.003.001.01.xsd",
        head001="head.001.001.01_ESMAUG_1.0.0.xsd",
        auth016="DRAFT15auth.016.001.01_ESMAUG_Reporting_1.0.3.xsd",
        auth016_namespace=NS_AUTH016_DRAFT15,
    ),
}


def schema_set(version: str) -> SchemaSet:
    """Return the schema files for a configured version.

    Args:
        version: Usage-guideline version, e.g. "1.1.0".

    Returns:
        The matching `SchemaSet`.

    Raises:
        ValueError: The version is unknown; the message lists the known ones so that a typo in
            configuration is obvious rather than surfacing later as a missing file.
    """
    try:
        return SCHEMA_SETS[version]
    except KeyError:
        known = ", ".join(sorted(SCHEMA_SETS))
        raise ValueError(
            f"unknown auth.016 schema version {version!r}; known versions: {known}"
        ) from None
