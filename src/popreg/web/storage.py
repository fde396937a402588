"""The static-file storage of the production profile (settings ``STORAGES``).

WhiteNoise's compressed manifest storage: ``popreg collectstatic`` writes every file under a
name carrying its content hash, plus gzip and Brotli copies, so WhiteNoise can let browsers
cache them for a year.  It rewrites the references inside CSS files to the hashed names; the
``sourceMappingURL`` comments of JavaScript files are left alone, because the vendored
libraries (static/vendor) keep that comment but their source maps are not vendored, and a
reference to a missing file would stop collectstatic.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    patterns = tuple(p for p in CompressedManifestStaticFilesStorage.patterns if p[0] != "*.js")
