# SPDX-License-Identifier: Apache-2.0
"""IMDS's non-identity endpoints: the instance document and scheduled events (reference §2).

podid passes these through to the real IMDS under a policy, so the emulator needs them to be present and
shaped like Azure's (all primitives strings, `{"error": "<text>"}` errors, leaves only with `format=text`), not
complete.
"""
from __future__ import annotations

import json
import uuid

from ..httpbase import Request, Response
from .faults import json_bytes
from .state import AzureState, Compute, Instance, VMSS_TYPE

JSON = "application/json; charset=utf-8"


def instance_document(cloud: AzureState, c: Compute, inst: Instance) -> dict:
    vmss = c.kind == VMSS_TYPE
    name = f"{c.name}_{inst.instance_id}" if vmss else c.name
    rid = f"{c.resource_id}/virtualMachines/{inst.instance_id}" if vmss else c.resource_id
    index = c.instances.index(inst)
    return {
        "compute": {
            "azEnvironment": "AzurePublicCloud", "location": c.location, "name": name, "osType": "Linux",
            "resourceGroupName": c.resource_group, "resourceId": rid, "subscriptionId": c.subscription_id,
            "vmId": inst.vm_id, "vmScaleSetName": c.name if vmss else "", "vmSize": "Standard_DS2_v2", "zone": "",
            "osProfile": {"computerName": inst.name, "adminUsername": "azureuser"},
            "tags": "", "tagsList": [], "userData": "",
            "virtualMachineScaleSet": {"id": c.resource_id if vmss else ""},
        },
        "network": {"interface": [{
            "ipv4": {"ipAddress": [{"privateIpAddress": f"10.224.0.{4 + index}", "publicIpAddress": ""}],
                     "subnet": [{"address": "10.224.0.0", "prefix": "16"}]},
            "ipv6": {"ipAddress": []},
            "macAddress": "000D3A" + f"{index:06X}",
        }]},
    }


def walk_document(doc: dict, sub_path: str, query: dict[str, list[str]]) -> Response:
    """Route filtering: `/metadata/instance/compute/name?format=text` (reference §2)."""
    node = doc
    for part in [p for p in sub_path.split("/") if p]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return Response(404, json_bytes({"error": "Not found"}), [("Content-Type", JSON)])
    as_text = (query.get("format") or [""])[0] == "text"
    if isinstance(node, (dict, list)):
        if as_text:
            return Response(400, json_bytes({"error": "Bad request. Non-leaf nodes are not supported with "
                                                      "format=text"}), [("Content-Type", JSON)])
        return Response(200, json_bytes(node), [("Content-Type", JSON)])
    if not as_text:
        return Response(400, json_bytes({"error": "Bad request. Leaf nodes require format=text"}),
                        [("Content-Type", JSON)])
    return Response.text(200, str(node))


def scheduled_events_route(imds, req: Request) -> Response:
    """GET lists `imds.scheduled_events`; POST `{"StartRequests":[{"EventId":…}]}` acknowledges (removes) them."""
    if req.method == "GET":
        return Response(200, json_bytes({"DocumentIncarnation": imds.events_incarnation,
                                          "Events": list(imds.scheduled_events)}), [("Content-Type", JSON)])
    try:
        ids = {s["EventId"] for s in json.loads(req.body or b"null")["StartRequests"]}
    except (ValueError, KeyError, TypeError):
        return Response(400, json_bytes({"error": "Bad request. Malformed StartRequests"}), [("Content-Type", JSON)])
    imds.scheduled_events[:] = [e for e in imds.scheduled_events if e.get("EventId") not in ids]
    imds.events_incarnation += 1
    return Response(200, b"", [("Content-Type", JSON)])


def scheduled_event(event_type: str = "Reboot", resources: tuple[str, ...] = (), *, not_before: str = "",
                    duration_s: int = -1) -> dict:
    """One event in the shape of reference §2, for tests to append to `imds.scheduled_events`."""
    return {"EventId": str(uuid.uuid4()).upper(), "EventType": event_type, "ResourceType": "VirtualMachine",
            "Resources": list(resources), "EventStatus": "Scheduled", "NotBefore": not_before,
            "Description": "", "EventSource": "Platform", "DurationInSeconds": duration_s}
