// SPDX-License-Identifier: Apache-2.0
#include "cli/render.h"

#include <nlohmann/json.hpp>

namespace podid::cli {
namespace {

using nlohmann::json;

std::string paint(const std::string& text, const char* code, bool colour) {
  return colour ? std::string("\033[") + code + "m" + text + "\033[0m" : text;
}

const char* colour_of(Severity s) {
  switch (s) {
    case Severity::kError:
      return "31;1";
    case Severity::kWarning:
      return "33";
    case Severity::kInfo:
      return "36";
  }
  return "0";
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// Each line of `text` prefixed with `indent`.
std::string indented(const std::string& text, const std::string& indent) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    out += indent + text.substr(start, end == std::string::npos ? std::string::npos : end - start) + "\n";
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string calls_line(const RunSummary& s) {
  if (!s.arm_checked) return "ARM not checked: " + s.arm_skipped_because;
  unsigned total = 0;
  std::string parts;
  for (const auto& [op, n] : s.arm_calls) {
    total += n;
    parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + op;
  }
  return "ARM calls: " + std::to_string(total) + (parts.empty() ? "" : " (" + parts + ")");
}

}  // namespace

std::string render_findings_table(const std::vector<Finding>& findings, const RunSummary& s, bool colour) {
  std::string out;
  size_t errors = 0, warnings = 0;
  for (const auto& f : findings) {
    errors += f.severity == Severity::kError;
    warnings += f.severity == Severity::kWarning;
  }
  if (!findings.empty()) out += pad("SEVERITY", 9) + pad("CODE", 32) + "OBJECT\n";
  for (const auto& f : findings) {
    out += paint(pad(to_string(f.severity), 9), colour_of(f.severity), colour) + pad(f.code, 32) + f.object + "\n";
    out += indented(f.cause, "         cause: ");
    if (!f.fix.empty()) out += "         fix:\n" + indented(f.fix, "           ");
  }
  out += "checked " + std::to_string(s.identities) + " identities, " + std::to_string(s.bindings) + " bindings, " +
         std::to_string(s.pods) + " pods, " + std::to_string(s.nodes) + " nodes; " + calls_line(s) + "\n";
  out += errors + warnings == 0
             ? paint("nothing wrong", "32", colour) + "\n"
             : paint(std::to_string(errors) + " error(s), " + std::to_string(warnings) + " warning(s)",
                     errors ? "31;1" : "33", colour) +
                   "\n";
  return out;
}

std::string render_findings_json(const std::vector<Finding>& findings, const RunSummary& s) {
  json list = json::array();
  for (const auto& f : findings) {
    list.push_back({{"severity", to_string(f.severity)}, {"code", f.code}, {"object", f.object}, {"cause", f.cause},
                    {"fix", f.fix}});
  }
  json arm = {{"checked", s.arm_checked}, {"calls", s.arm_calls}};
  if (!s.arm_checked) arm["skipped_because"] = s.arm_skipped_because;
  return json{{"findings", std::move(list)},
              {"checked", {{"identities", s.identities}, {"bindings", s.bindings}, {"pods", s.pods}, {"nodes", s.nodes}}},
              {"arm", std::move(arm)}}
             .dump(2) +
         "\n";
}

std::string render_explanation_text(const Explanation& e, bool colour) {
  if (!e.found) return "pod not found\n";
  auto row = [](const std::string& label, const std::string& value) { return pad(label, 12) + value + "\n"; };
  std::string out;
  out += row("pod", e.pod.ns + "/" + e.pod.name + (e.pod.phase.empty() ? "" : " (" + e.pod.phase + ")"));
  out += row("node", e.pod.node.empty() ? "(not scheduled)" : e.pod.node);
  out += row("label", e.label.empty() ? "(no aadpodidbinding label)" : "aadpodidbinding=" + e.label);
  const AgentReport& agent = e.agent;
  if (!agent.fetched) {
    out += row("cgroup", "(known to the node's agent only; see decisions)");
  } else if (agent.cgroup_id) {
    out += row("cgroup", agent.cgroup_path + " (id " + std::to_string(*agent.cgroup_id) + ")");
  } else {
    out += row("cgroup", "(the agent of " + agent.node + " knows no cgroup of this pod)");
  }
  if (e.matches.empty()) out += row("bindings", "(none match)");
  for (size_t i = 0; i < e.matches.size(); ++i) {
    const auto& m = e.matches[i];
    out += row(i == 0 ? "bindings" : "", m.binding + " -> AzureIdentity " + m.identity +
                                             (m.servable ? " (may be served)" : " (not assigned to the pod yet)"));
  }
  for (size_t i = 0; i < e.near_misses.size(); ++i) {
    out += row(i == 0 ? "near misses" : "", e.near_misses[i].binding + ": " + e.near_misses[i].why);
  }
  if (e.outcome == "identity") {
    out += row("identity", paint(e.identity, "32;1", colour) + " (client id " + e.client_id + ", binding " + e.binding + ")");
  } else if (e.outcome == "excepted") {
    out += row("identity", paint("the node's own (excepted)", "33", colour));
  } else {
    out += row("identity", paint("none (" + e.reason + ")", "31;1", colour));
  }
  out += row("rule", e.rule);
  if (e.assignments.empty()) out += row("assigned", "(no AzureAssignedIdentity)");
  for (size_t i = 0; i < e.assignments.size(); ++i) {
    const auto& a = e.assignments[i];
    out += row(i == 0 ? "assigned" : "", a.name + ": " + a.identity + " " + a.state + (a.node.empty() ? "" : " on " + a.node));
  }
  std::string compute = e.compute_id.empty() ? e.compute_note : e.compute_id;
  if (!e.compute_id.empty() && e.outcome == "identity") {
    if (e.on_compute) {
      compute += *e.on_compute ? ": the identity is on it" : ": the identity is NOT on it";
    } else if (!e.compute_note.empty()) {
      compute += " (" + e.compute_note + ")";
    }
  }
  out += row("compute", compute);
  if (!agent.fetched) {
    out += row("decisions", "not read: " + agent.note);
    if (!agent.port_forward.empty()) out += row("", "reach the agent: " + agent.port_forward);
    if (!agent.audit_lines.empty()) out += row("", "or its audit lines: " + agent.audit_lines);
  } else if (agent.decisions.empty()) {
    out += row("decisions", "(none recorded by the agent of " + agent.node + ")");
  }
  for (size_t i = 0; i < agent.decisions.size(); ++i) {
    const AgentDecision& d = agent.decisions[i];
    std::string line = d.time + " " + paint(d.decision, d.decision == "served" ? "32" : "31", colour) + " " +
                       (d.resource.empty() ? "-" : d.resource);
    if (!d.client_id.empty()) line += " client id " + d.client_id;
    line += " (" + (d.reason.empty() ? std::string("-") : d.reason) + ", " + std::to_string(d.status) + ")";
    out += row(i == 0 ? "decisions" : "", line);
  }
  if (agent.fetched && agent.recorded > agent.decisions.size()) {
    out += row("", "(the last " + std::to_string(agent.decisions.size()) + " of " + std::to_string(agent.recorded) +
                       ", newest first)");
  }
  return out;
}

std::string render_explanation_json(const Explanation& e) {
  if (!e.found) return json{{"found", false}}.dump(2) + "\n";
  json matches = json::array(), misses = json::array(), assigned = json::array();
  for (const auto& m : e.matches) matches.push_back({{"binding", m.binding}, {"identity", m.identity}, {"servable", m.servable}});
  for (const auto& n : e.near_misses) misses.push_back({{"binding", n.binding}, {"why", n.why}});
  for (const auto& a : e.assignments) {
    assigned.push_back({{"name", a.name}, {"identity", a.identity}, {"state", a.state}, {"node", a.node}});
  }
  json out = {{"found", true},
              {"pod", e.pod.ns + "/" + e.pod.name},
              {"node", e.pod.node},
              {"label", e.label},
              {"outcome", e.outcome},
              {"identity", e.identity},
              {"binding", e.binding},
              {"client_id", e.client_id},
              {"rule", e.rule},
              {"reason", e.reason},
              {"bindings", std::move(matches)},
              {"near_misses", std::move(misses)},
              {"assigned_identities", std::move(assigned)},
              {"compute", e.compute_id},
              {"compute_note", e.compute_note},
              {"cgroup", nullptr}};
  const AgentReport& agent = e.agent;
  if (agent.cgroup_id) out["cgroup"] = {{"id", *agent.cgroup_id}, {"path", agent.cgroup_path}};
  json decisions = json::array();
  for (const auto& d : agent.decisions) {
    decisions.push_back({{"time", d.time}, {"decision", d.decision}, {"reason", d.reason}, {"resource", d.resource},
                         {"client_id", d.client_id}, {"source", d.source}, {"subject", d.subject},
                         {"status", d.status}, {"cgroup_id", d.cgroup_id}, {"cgroup_path", d.cgroup_path}});
  }
  out["agent"] = {{"fetched", agent.fetched}, {"node", agent.node}, {"note", agent.note},
                  {"port_forward", agent.port_forward}, {"audit_lines", agent.audit_lines},
                  {"recorded", agent.recorded}, {"decisions", std::move(decisions)}};
  out["identity_on_compute"] = e.on_compute ? json(*e.on_compute) : json(nullptr);
  return out.dump(2) + "\n";
}

}  // namespace podid::cli
