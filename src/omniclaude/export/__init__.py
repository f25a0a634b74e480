"""Bulk export and re-import of stored rows (``omniclaude export``, ``GET /export``,
``omniclaude import``).

The rows come from the one read layer (:mod:`omniclaude.storage.queries.export`); this
package turns them into files (:mod:`~omniclaude.export.formats`: JSON lines, CSV, Parquet),
runs a whole export (:mod:`~omniclaude.export.run`) and reads an export back into a database
through the idempotent writers (:mod:`~omniclaude.export.reimport`).
"""

from omniclaude.export.formats import MEDIA_TYPES, Encoder, Format, arrow_schema, make_encoder
from omniclaude.export.reimport import ExportFileError, ImportResult, import_file, import_path
from omniclaude.export.run import export_table

__all__ = [
    "MEDIA_TYPES",
    "Encoder",
    "ExportFileError",
    "Format",
    "ImportResult",
    "arrow_schema",
    "export_table",
    "import_file",
    "import_path",
    "make_encoder",
]
