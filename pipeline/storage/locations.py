"""Where a store lives: a local path or an object-storage URL, with its connection options.

:func:`parse_location` turns ``s3://bucket/prefix``, ``gs://bucket/prefix``,
``az://container/prefix``, ``file:///abs/path`` or a plain path into a
:class:`Location`, the one description of a place that the storage layer
opens (:meth:`Location.icechunk_storage`, :meth:`Location.repository_config`).

**Options.** The endpoint, region, anonymous access, plain-http permission and
retries come from the study's ``[storage]`` section when set there, else from
the standard environment variables: ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``), ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) and
``AWS_ALLOW_HTTP``. **Credentials** come from the environment only
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``; the
libraries' own chains for Google Cloud and Azure), never from a URL or the
command line: a URL holding a user or password is refused.

Every refusal is one :class:`~pipeline.errors.ConfigError` line naming the URL,
key or variable and the fix.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

#: URL schemes of object storage, and ``file``.
SCHEMES = ("s3", "gs", "az", "file")
#: The ``max_tries`` of a location whose ``[storage]`` leaves it unset.
DEFAULT_MAX_TRIES = 10
_BUCKET = {
    "s3": re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    "gs": re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$"),
    "az": re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$"),
}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")
#: ``[storage] region`` and ``AWS_REGION``: e.g. ``us-east-1``, ``eu-central-2``, ``auto``.
REGION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class StorageOptions:
    """Connection options of object storage, resolved from ``[storage]`` and the environment.

    Attributes
    ----------
    endpoint_url : str or None
        A non-AWS S3 endpoint (MinIO, SeaweedFS, Ceph), e.g. ``http://127.0.0.1:8333``.
    region : str or None
        The S3 region.
    anonymous : bool
        Unsigned requests (public buckets); no credentials are looked up.
    allow_http : bool
        Whether a plain ``http://`` endpoint may be used.
    max_tries : int
        Attempts of each storage request before the run fails (retries back off).
    """

    endpoint_url: str | None = None
    region: str | None = None
    anonymous: bool = False
    allow_http: bool = False
    max_tries: int = DEFAULT_MAX_TRIES


@dataclass(frozen=True)
class Location:
    """A place that holds a store or a results directory.

    Attributes
    ----------
    scheme : str
        ``file``, ``s3``, ``gs`` or ``az``.
    bucket : str
        The bucket (the container for ``az``); empty for ``file``.
    path : str
        The absolute local path (``file``), or the key prefix in the bucket
        without leading or trailing ``/`` (may be empty).
    options : StorageOptions
        How to connect (object storage only).
    """

    scheme: str
    bucket: str
    path: str
    options: StorageOptions = StorageOptions()

    @property
    def is_local(self) -> bool:
        """True for a local (or shared-filesystem) path."""
        return self.scheme == "file"

    @property
    def local_path(self) -> Path:
        """The local path; raises for object storage."""
        if not self.is_local:
            raise ConfigError(f"{self.url}: object storage has no local path here")
        return Path(self.path)

    @property
    def url(self) -> str:
        """The location as text: a plain path, or ``scheme://bucket/prefix``."""
        if self.is_local:
            return self.path
        return f"{self.scheme}://{self.bucket}" + (f"/{self.path}" if self.path else "")

    def __str__(self) -> str:
        return self.url

    def child(self, *names: str) -> Location:
        """The location ``names`` below this one (``DIR/footprint``)."""
        if self.is_local:
            return replace(self, path=str(Path(self.path).joinpath(*names)))
        return replace(self, path="/".join(p for p in (self.path, *names) if p))

    def icechunk_storage(self) -> Any:
        """An ``icechunk.Storage`` for this location (credentials from the environment)."""
        import icechunk

        if self.is_local:
            return icechunk.local_filesystem_storage(self.path)
        if self.scheme == "s3":
            return icechunk.s3_storage(**self.s3_arguments())
        if self.scheme == "gs":
            if self.options.anonymous:
                return icechunk.gcs_storage(bucket=self.bucket, prefix=self.path, anonymous=True)
            return icechunk.gcs_storage(bucket=self.bucket, prefix=self.path, from_env=True)
        return icechunk.azure_storage(
            account=_azure_account(self.url),
            container=self.bucket,
            prefix=self.path,
            from_env=True,
        )

    def s3_arguments(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Keyword arguments of ``icechunk.s3_storage``: options, and credentials from ``env``."""
        env = os.environ if env is None else env
        opts = self.options
        args: dict[str, Any] = {"bucket": self.bucket, "prefix": self.path}
        args.update(region=opts.region, endpoint_url=opts.endpoint_url)
        args.update(allow_http=opts.allow_http, force_path_style=opts.endpoint_url is not None)
        if opts.anonymous:
            return {**args, "anonymous": True}
        key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
        if bool(key) != bool(secret):
            missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
            raise ConfigError(
                f"{self.url}: {missing} is not set but its partner is; set both "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither"
            )
        if key:
            token = env.get("AWS_SESSION_TOKEN") or None
            return {
                **args,
                "access_key_id": key,
                "secret_access_key": secret,
                "session_token": token,
            }
        return {**args, "from_env": True}  # the AWS chain: profile, web identity, instance role

    def repository_config(self) -> Any:
        """An ``icechunk.RepositoryConfig`` with this location's retries."""
        import icechunk

        retries = icechunk.StorageRetriesSettings(max_tries=self.options.max_tries)
        return icechunk.RepositoryConfig(storage=icechunk.StorageSettings(retries=retries))


def parse_location(
    value: str | Path,
    options: StorageOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    what: str = "--out",
) -> Location:
    """The :class:`Location` of a path or URL.

    Parameters
    ----------
    value : str or Path
        ``s3://bucket/prefix``, ``gs://...``, ``az://container/prefix``,
        ``file:///abs/path`` or a plain path (made absolute).
    options : StorageOptions, optional
        The connection options (:func:`storage_options`: ``[storage]`` over the
        environment); by default the environment's alone.
    env : mapping, optional
        The environment when ``options`` is not given (default ``os.environ``).
    what : str
        How the value was given, for messages (``--out``, ``[mrio] global``).

    Raises
    ------
    ConfigError
        For an unknown scheme, a missing or invalid bucket, credentials in the
        URL, or an endpoint or environment variable that cannot be used.
    """
    env = os.environ if env is None else env
    text = str(value)
    scheme, sep, _ = text.partition("://")
    if not sep:
        return Location("file", "", os.path.abspath(os.path.expanduser(text)))
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(
            f"{what} {text}: unknown scheme {scheme!r}; use s3://, gs://, az://, file:// "
            "or a plain path"
        )
    parts = urllib.parse.urlsplit(text)
    if parts.username or parts.password or "@" in parts.netloc:
        raise ConfigError(
            f"{what} {_redacted(parts)}: credentials never go in a URL or on the command line; "
            "remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{what} {text}: a location has no '?' or '#' part; remove it")
    if scheme == "file":
        return _file_location(parts, text, what)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if not _BUCKET[scheme].match(bucket):
        raise ConfigError(
            f"{what} {text}: {bucket!r} is not a valid {scheme} bucket name; use 3-63 lowercase "
            f"letters, digits, '.' or '-', e.g. {scheme}://my-bucket/footprint"
        )
    if "//" in parts.path.strip("/") or any(p in (".", "..") for p in prefix.split("/")):
        raise ConfigError(f"{what} {text}: the prefix has an empty, '.' or '..' part; fix it")
    if options is None:
        options = storage_options({}, env=env, url=text)
    return Location(scheme, bucket, prefix, options)


def _file_location(parts: urllib.parse.SplitResult, text: str, what: str) -> Location:
    if parts.netloc not in ("", "localhost"):
        raise ConfigError(
            f"{what} {text}: file:// URLs name a local path (file:///abs/path); mount the "
            f"host {parts.netloc!r} and give its path, or use object storage"
        )
    path = urllib.parse.unquote(parts.path)
    if not path.startswith("/"):
        raise ConfigError(f"{what} {text}: give an absolute path, e.g. file:///data/out")
    return Location("file", "", os.path.abspath(path))


def storage_options(
    given: Mapping[str, Any], *, env: Mapping[str, str], url: str = ""
) -> StorageOptions:
    """``[storage]``'s keys where ``given`` sets them (not None), else the environment's.

    ``url`` names the location in messages.
    """
    where = f"{url}: " if url else ""
    endpoint = given.get("endpoint_url")
    if endpoint is None:
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        source = "AWS_ENDPOINT_URL"
    else:
        source = "[storage] endpoint_url"
    region = given.get("region")
    if region is None:
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        if region is not None and not REGION_RE.match(region):
            raise ConfigError(
                f"{where}AWS_REGION={region!r} is not a region name; set e.g. us-east-1"
            )
    allow_http = given.get("allow_http")
    if allow_http is None:
        allow_http = _env_flag(env, "AWS_ALLOW_HTTP", where)
    if endpoint is not None:
        check_endpoint(endpoint, source=f"{where}{source}", allow_http=allow_http)
    max_tries = given.get("max_tries")
    return StorageOptions(
        endpoint_url=endpoint,
        region=region,
        anonymous=bool(given.get("anonymous") or False),
        allow_http=allow_http,
        max_tries=DEFAULT_MAX_TRIES if max_tries is None else int(max_tries),
    )


def check_endpoint(endpoint: str, *, source: str, allow_http: bool | None = None) -> None:
    """Refuse an endpoint that is no ``http(s)://host[:port]`` URL, or plain http not allowed.

    ``allow_http`` None skips the plain-http check (the config alone cannot know the
    environment's ``AWS_ALLOW_HTTP``).
    """
    parts = urllib.parse.urlsplit(endpoint)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(
            f"{source} = {endpoint!r} is not an endpoint URL; give http(s)://HOST[:PORT], "
            "e.g. http://127.0.0.1:8333"
        )
    if parts.username or parts.password:
        raise ConfigError(
            f"{source}: credentials never go in the endpoint URL; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in the environment"
        )
    if parts.scheme == "http" and allow_http is False:
        raise ConfigError(
            f"{source} = {endpoint!r} is plain http; set [storage] allow_http = true or "
            "AWS_ALLOW_HTTP=true to allow it (only on a trusted network), or use https"
        )


def _env_flag(env: Mapping[str, str], name: str, where: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{where}{name}={env[name]!r} is not a boolean; set it to true or false")


def _azure_account(url: str) -> str:
    account = os.environ.get("AZURE_STORAGE_ACCOUNT_NAME") or os.environ.get(
        "AZURE_STORAGE_ACCOUNT"
    )
    if not account:
        raise ConfigError(
            f"{url}: set AZURE_STORAGE_ACCOUNT_NAME to the storage account of the container"
        )
    return account


def _redacted(parts: urllib.parse.SplitResult) -> str:
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, f"***@{host}", parts.path, "", ""))
