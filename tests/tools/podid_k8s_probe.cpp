// SPDX-License-Identifier: Apache-2.0
//
// podid-k8s-probe: runs one podid Reflector (kubeconfig -> ApiClient -> list/watch) and prints what the
// consumer sees as JSON lines on stdout, so tests can drive the real client against an API server (the
// harness stand-in) and check it from outside.
//
//   podid-k8s-probe --kubeconfig PATH [--context NAME] [--path /api/v1/pods] [--field-selector S]
//                   [--label-selector S] [--watch-timeout SECONDS] [--backoff-ms MS]
//
// Lines: {"kind":"replace","items":["ns/name",...],"stats":{...}}
//        {"kind":"event","type":"ADDED","name":"ns/name","resourceVersion":"12","stats":{...}}
//        {"kind":"stats","stats":{...}}   (once, on SIGTERM/SIGINT, before exiting 0)
// Exit 2 on a configuration error (message on stderr).
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include "podid/k8s/api_client.h"
#include "podid/k8s/cluster_config.h"
#include "podid/k8s/reflector.h"

namespace {

using nlohmann::json;
using podid::k8s::ReflectorStats;
using podid::k8s::WatchEventType;

json stats_json(const ReflectorStats& s) {
  return {{"synced", s.synced},   {"connected", s.connected},       {"lists", s.lists},
          {"watches", s.watches}, {"relists_gone", s.relists_gone}, {"failures", s.failures},
          {"events", s.events},   {"last_error", s.last_error}};
}

std::string name_of(const json& object) {
  const json& md = object.at("metadata");
  std::string name = md.value("name", "");
  return md.contains("namespace") ? md.value("namespace", "") + "/" + name : name;
}

void emit(const json& line) {
  std::cout << line.dump(-1, ' ', false, json::error_handler_t::replace) << std::endl;  // flushed: tests read live
}

int usage(const char* msg) {
  std::cerr << "podid-k8s-probe: " << msg
            << "\nusage: podid-k8s-probe --kubeconfig PATH [--context NAME] [--path P] [--field-selector S]"
               " [--label-selector S] [--watch-timeout SECONDS] [--backoff-ms MS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string kubeconfig, context;
  podid::k8s::ReflectorOptions options{.name = "probe", .collection_path = "/api/v1/pods"};
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + arg).c_str());
    std::string value = argv[++i];
    try {
      if (arg == "--kubeconfig") {
        kubeconfig = value;
      } else if (arg == "--context") {
        context = value;
      } else if (arg == "--path") {
        options.collection_path = value;
      } else if (arg == "--field-selector") {
        options.field_selector = value;
      } else if (arg == "--label-selector") {
        options.label_selector = value;
      } else if (arg == "--watch-timeout") {
        options.watch_timeout_seconds = std::stoi(value);
      } else if (arg == "--backoff-ms") {
        options.backoff_initial = std::chrono::milliseconds(std::stoi(value));
        options.backoff_max = options.backoff_initial * 8;
      } else {
        return usage(("unknown option " + arg).c_str());
      }
    } catch (const std::exception&) {
      return usage(("bad value for " + arg).c_str());
    }
  }
  if (kubeconfig.empty()) return usage("--kubeconfig is required");

  auto config = podid::k8s::kubeconfig_config(kubeconfig, context);
  if (!config) {
    std::cerr << "podid-k8s-probe: " << config.error().message() << "\n";
    return 2;
  }

  boost::asio::io_context io;
  podid::k8s::ApiClient api(io.get_executor(), config.value(), "podid-k8s-probe");
  podid::k8s::Reflector* self = nullptr;
  podid::k8s::ReflectorHandler handler{
      .replace =
          [&](const std::vector<json>& items) {
            json names = json::array();
            for (const auto& item : items) names.push_back(name_of(item));
            emit({{"kind", "replace"}, {"items", names}, {"stats", stats_json(self->stats())}});
          },
      .event =
          [&](WatchEventType type, const json& object) {
            static const char* kTypes[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
            emit({{"kind", "event"},
                  {"type", kTypes[static_cast<int>(type)]},
                  {"name", name_of(object)},
                  {"resourceVersion", object["metadata"].value("resourceVersion", "")},
                  {"stats", stats_json(self->stats())}});
          },
  };
  podid::k8s::Reflector reflector(io.get_executor(), api, options, handler);
  self = &reflector;

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    emit({{"kind", "stats"}, {"stats", stats_json(reflector.stats())}});
    reflector.stop();
    io.stop();
  });
  reflector.start();
  io.run();
  return 0;
}
