"""The Kubernetes reads PAII makes, without importing the generated API classes.

Profiled (kubernetes 37, a busy 2-core machine, CPU seconds): the first Kubernetes call of a
server's life spent ~0.6 s importing ``kubernetes/__init__.py`` (which imports every submodule:
dynamic, watch, informer, leaderelection, utils ... and with them ``V1Pod`` and its tree of
pydantic models) and ~2.2 s importing ``CoreV1Api``/``AppsV1Api`` (their modules import ~250
pydantic models for the type hints of ~600 methods); loading the kubeconfig and the request
itself took 0.02 s. PAII reads with ``_preload_content=False`` and parses the JSON itself, so it
needs none of those models.

* :func:`load_library` imports the ``kubernetes`` package without running its ``__init__`` (the
  package object is made from its import spec; every submodule still imports normally), so
  ``kubernetes.config`` and ``kubernetes.client`` (lazy in 37) cost what they need.
* :class:`Api` answers the GET endpoints in :data:`READS` straight through the same
  ``ApiClient`` the generated methods use (``param_serialize`` + ``_call_with_legacy_options``:
  the kubeconfig's auth, TLS, proxy and timeouts, and ``ApiException`` for a status that is not
  2xx, exactly as the generated method with ``_preload_content=False``). Any other method
  (writes, exec) comes from the generated class, imported on first use.
  ``tests/kubernetes/test_reads.py`` checks each read sends what the generated method sends.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

#: group -> method -> (path); the positional arguments are the path's {name}, then {namespace}
READS: dict[str, dict[str, str]] = {
    "core": {
        "list_namespaced_pod": "/api/v1/namespaces/{namespace}/pods",
        "read_namespaced_pod": "/api/v1/namespaces/{namespace}/pods/{name}",
        "list_namespaced_event": "/api/v1/namespaces/{namespace}/events",
        "read_namespaced_pod_log": "/api/v1/namespaces/{namespace}/pods/{name}/log",
    },
    "apps": {
        "read_namespaced_deployment": "/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
        "list_namespaced_replica_set": "/apis/apps/v1/namespaces/{namespace}/replicasets",
    },
}
GENERATED = {"core": "CoreV1Api", "apps": "AppsV1Api"}
#: what the generated methods ask for (select_header_accept picks the first json type)
ACCEPT = {"read_namespaced_pod_log": ["text/plain", "application/json"]}


def load_library() -> types.ModuleType:
    """The ``kubernetes`` package, imported without its ``__init__`` when nothing imported it yet."""
    found = sys.modules.get("kubernetes")
    if found is not None:
        return found
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or spec.submodule_search_locations is None:
        return importlib.import_module("kubernetes")  # not the package layout we know: import it as is
    package = importlib.util.module_from_spec(spec)  # __path__, __spec__, __file__: no code run
    sys.modules["kubernetes"] = package
    return package


def _query_name(name: str) -> str:
    """The API's name of a generated method's keyword: label_selector -> labelSelector."""
    if name == "_continue":
        return "continue"
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


class Api:
    """``CoreV1Api``/``AppsV1Api`` for PAII: the reads in :data:`READS` without the generated module."""

    def __init__(self, api_client: Any, group: str) -> None:
        self.api_client = api_client
        self.group = group
        self._real: Any = None

    def generated(self) -> Any:
        """The generated API class on the same ApiClient (imported the first time it is needed)."""
        if self._real is None:
            load_library()
            client = importlib.import_module("kubernetes.client")
            self._real = getattr(client, GENERATED[self.group])(self.api_client)
        return self._real

    def __getattr__(self, name: str) -> Any:
        path = READS.get(self.__dict__.get("group", ""), {}).get(name)
        if path is None:
            return getattr(self.generated(), name)
        order = [p for p in ("name", "namespace") if "{" + p + "}" in path]

        def read(api: Api, *args: Any, _preload_content: bool = True, _request_timeout: Any = None, **kwargs: Any) -> Any:
            if _preload_content:  # a model was asked for: only the generated method makes one
                return getattr(api.generated(), name)(*args, _request_timeout=_request_timeout, **kwargs)
            params = dict(zip(order, args))
            params.update({p: kwargs.pop(p) for p in order if p in kwargs})
            missing = [p for p in order if not params.get(p)]
            if missing:
                raise TypeError(f"{name}() needs {', '.join(missing)}")
            query = [(_query_name(k), v) for k, v in kwargs.items() if v is not None]
            accept = api.api_client.select_header_accept(ACCEPT.get(name, ["application/json"]))
            request = api.api_client.param_serialize(
                method="GET", resource_path=path, path_params=params, query_params=query,
                header_params={"Accept": accept}, body=None, post_params=[], files={}, auth_settings=["BearerToken"],
                collection_formats={}, _host=None, _request_auth=None)
            return api.api_client._call_with_legacy_options(request, {"200": None}, False, False, _request_timeout, True)

        read.__name__ = read.__qualname__ = name
        return types.MethodType(read, self)

