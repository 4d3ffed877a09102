// SPDX-License-Identifier: Apache-2.0
#include "controller/arm/resource_id.h"

#include <cctype>
#include <vector>

namespace podid::controller::arm {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return a.size() == b.size() && lower(a) == lower(b); }

Error bad_id(std::string_view what, std::string_view id) {
  return {std::make_error_code(std::errc::invalid_argument), std::string(what) + ": '" + std::string(id) + "'"};
}

// Splits "/a/b/c" into {"a","b","c"}; an empty segment (a "//") makes the id invalid, so it is kept as "".
std::vector<std::string_view> segments(std::string_view id) {
  std::vector<std::string_view> out;
  if (!id.empty() && id.back() == '/') id.remove_suffix(1);
  if (id.empty() || id.front() != '/') return out;
  id.remove_prefix(1);
  while (true) {
    auto pos = id.find('/');
    out.push_back(id.substr(0, pos));
    if (pos == std::string_view::npos) break;
    id.remove_prefix(pos + 1);
  }
  return out;
}

struct Parsed {
  ResourceId id;
  std::string_view child_type;  // "" when none
  std::string_view child_name;
};

// Parses subscriptions/<s>/resourceGroups/<rg>/providers/<ns>/<type>/<name>[/<child_type>/<child_name>].
Result<Parsed> parse_path(std::string_view text, std::string_view original) {
  auto seg = segments(text);
  if (seg.size() != 8 && seg.size() != 10) return bad_id("not an ARM resource id", original);
  for (auto s : seg) {
    if (s.empty()) return bad_id("empty segment in ARM resource id", original);
  }
  if (!iequals(seg[0], "subscriptions") || !iequals(seg[2], "resourceGroups") || !iequals(seg[4], "providers")) {
    return bad_id("not an ARM resource id", original);
  }
  Parsed p;
  p.id.subscription = std::string(seg[1]);
  p.id.resource_group = std::string(seg[3]);
  p.id.name = std::string(seg[7]);
  if (iequals(seg[5], "Microsoft.Compute") && iequals(seg[6], "virtualMachineScaleSets")) {
    p.id.kind = ResourceKind::kScaleSet;
  } else if (iequals(seg[5], "Microsoft.Compute") && iequals(seg[6], "virtualMachines")) {
    p.id.kind = ResourceKind::kVirtualMachine;
  } else if (iequals(seg[5], "Microsoft.ManagedIdentity") && iequals(seg[6], "userAssignedIdentities")) {
    p.id.kind = ResourceKind::kUserAssignedIdentity;
  } else {
    return bad_id("unsupported ARM resource type", original);
  }
  if (seg.size() == 10) {
    p.child_type = seg[8];
    p.child_name = seg[9];
  }
  return p;
}

}  // namespace

std::string ResourceId::id() const {
  std::string type;
  switch (kind) {
    case ResourceKind::kScaleSet:
      type = "Microsoft.Compute/virtualMachineScaleSets/";
      break;
    case ResourceKind::kVirtualMachine:
      type = "Microsoft.Compute/virtualMachines/";
      break;
    case ResourceKind::kUserAssignedIdentity:
      type = "Microsoft.ManagedIdentity/userAssignedIdentities/";
      break;
  }
  return "/subscriptions/" + subscription + "/resourceGroups/" + resource_group + "/providers/" + type + name;
}

std::string ResourceId::key() const { return lower(id()); }

Result<ResourceId> parse_resource_id(std::string_view id) {
  auto p = parse_path(id, id);
  if (!p) return p.error();
  if (!p->child_type.empty()) return bad_id("child resource, not a VMSS, VM or identity id", id);
  return p->id;
}

Result<ResourceId> parse_identity_id(std::string_view id) {
  auto r = parse_resource_id(id);
  if (!r) return r.error();
  if (r->kind != ResourceKind::kUserAssignedIdentity) return bad_id("not a user-assigned identity id", id);
  return r;
}

Result<ResourceId> parse_provider_id(std::string_view provider_id) {
  constexpr std::string_view kScheme = "azure://";
  if (provider_id.size() < kScheme.size() || !iequals(provider_id.substr(0, kScheme.size()), kScheme)) {
    return bad_id("providerID is not azure://", provider_id);
  }
  auto p = parse_path(provider_id.substr(kScheme.size()), provider_id);
  if (!p) return p.error();
  switch (p->id.kind) {
    case ResourceKind::kScaleSet:
      // Uniform VMSS: the instance is a child; identities are set on the scale set.
      if (!iequals(p->child_type, "virtualMachines")) {
        return bad_id("VMSS providerID without /virtualMachines/<instance>", provider_id);
      }
      return p->id;
    case ResourceKind::kVirtualMachine:
      if (!p->child_type.empty()) return bad_id("VM providerID with a child resource", provider_id);
      return p->id;
    case ResourceKind::kUserAssignedIdentity:
      break;
  }
  return bad_id("providerID names neither a VMSS instance nor a VM", provider_id);
}

std::string canonical_key(std::string_view id) {
  while (!id.empty() && id.back() == '/') id.remove_suffix(1);
  return lower(id);
}

bool same_id(std::string_view a, std::string_view b) { return canonical_key(a) == canonical_key(b); }

}  // namespace podid::controller::arm
