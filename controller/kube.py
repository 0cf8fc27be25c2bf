"""The few Kubernetes API calls the controller makes itself (kopf does the watching).

The official synchronous client, run in a worker thread so the operator's event loop never
blocks. Responses are read as raw JSON (``_preload_content=False``): the code works on the same
dict shape that kopf hands to handlers, and no model class drops a field it does not know.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from order_contracts.labels import PART_OF, PART_OF_LABEL, ROUTED_SELECTOR, ROUTING_KEY

from .observe import SERVICE_NAME_LABEL

PEERING_GROUP, PEERING_VERSION, PEERING_PLURAL = "kopf.dev", "v1", "kopfpeerings"
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class ConfigMapState:
    """The routing ConfigMap as it is now: ``text`` is None when the key is missing."""

    text: str | None


def api_client() -> client.ApiClient:
    """In-cluster credentials in a pod, the kubeconfig elsewhere (like kopf's own login)."""
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)
    return client.ApiClient(configuration)


def _json(response: Any) -> Any:
    return json.loads(response.data)


class KubeApi:
    """Reads and writes of one namespace, as coroutines."""

    def __init__(self, namespace: str, api: client.ApiClient | None = None):
        self.namespace = namespace
        self._client = api or api_client()
        self._core = client.CoreV1Api(self._client)
        self._discovery = client.DiscoveryV1Api(self._client)
        self._custom = client.CustomObjectsApi(self._client)

    def close(self) -> None:
        self._client.close()

    async def read_configmap(self, name: str) -> ConfigMapState | None:
        """None when the ConfigMap does not exist (404)."""

        def call() -> ConfigMapState | None:
            try:
                body = _json(
                    self._core.read_namespaced_config_map(
                        name,
                        self.namespace,
                        _preload_content=False,
                        _request_timeout=REQUEST_TIMEOUT,
                    )
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
            return ConfigMapState(text=(body.get("data") or {}).get(ROUTING_KEY))

        return await asyncio.to_thread(call)

    async def create_configmap(self, name: str, text: str) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": self.namespace,
                "labels": {PART_OF_LABEL: PART_OF},
            },
            "data": {ROUTING_KEY: text},
        }
        await asyncio.to_thread(
            self._core.create_namespaced_config_map,
            self.namespace,
            body,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )

    async def patch_configmap(self, name: str, text: str) -> None:
        """Replace only our key; other keys someone added stay."""
        await asyncio.to_thread(
            self._core.patch_namespaced_config_map,
            name,
            self.namespace,
            {"data": {ROUTING_KEY: text}},
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )

    async def list_services(self) -> list[dict[str, Any]]:
        response = await asyncio.to_thread(
            self._core.list_namespaced_service,
            self.namespace,
            label_selector=ROUTED_SELECTOR,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        return list(_json(response).get("items") or [])

    async def list_endpointslices(self) -> list[dict[str, Any]]:
        response = await asyncio.to_thread(
            self._discovery.list_namespaced_endpoint_slice,
            self.namespace,
            label_selector=SERVICE_NAME_LABEL,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        return list(_json(response).get("items") or [])

    async def read_peering(self, name: str) -> dict[str, Any] | None:
        """The KopfPeering object, or None when it does not exist."""

        def call() -> dict[str, Any] | None:
            try:
                return dict(
                    _json(
                        self._custom.get_namespaced_custom_object(
                            PEERING_GROUP,
                            PEERING_VERSION,
                            self.namespace,
                            PEERING_PLURAL,
                            name,
                            _preload_content=False,
                            _request_timeout=REQUEST_TIMEOUT,
                        )
                    )
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        return await asyncio.to_thread(call)
