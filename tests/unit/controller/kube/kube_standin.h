// SPDX-License-Identifier: Apache-2.0
//
// The Kubernetes API stand-in (tests/harness/podid_harness/kube) as a child process for GoogleTest: started on
// 127.0.0.1 with a port chosen at run time, its kubeconfig read into a ClusterConfig. The child dies with the
// test: killed in the destructor (however the test ends) and by PR_SET_PDEATHSIG if the test process itself
// dies. pause()/resume() stop and continue it (SIGSTOP/SIGCONT): an API server that accepts connections but
// never answers.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>

#include "podid/k8s/api_client.h"
#include "podid/k8s/cluster_config.h"
#include "run_until.h"

namespace podid::testing {

class KubeStandIn {
 public:
  // Throws std::runtime_error (failing the test) if the stand-in does not come up within 30 s.
  KubeStandIn() {
    char tmpl[] = "/tmp/podid-kube-standin-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    const std::string kubeconfig = (dir_ / "kubeconfig").string();
    const std::string port_file = (dir_ / "port").string();
    const std::string log_file = (dir_ / "standin.log").string();
    const std::string pythonpath = std::string(PODID_SOURCE_DIR) + "/tests/harness";
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      FILE* log = fopen(log_file.c_str(), "w");
      if (log) {
        dup2(fileno(log), 1);
        dup2(fileno(log), 2);
      }
      setenv("PYTHONPATH", pythonpath.c_str(), 1);
      setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
      execl("/usr/bin/python3", "python3", "-m", "podid_harness.kube", "serve", "--host", "127.0.0.1", "--port",
            "0", "--kubeconfig-out", kubeconfig.c_str(), "--port-file", port_file.c_str(), (char*)nullptr);
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!std::filesystem::exists(port_file)) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("the stand-in exited at start-up; see its log: " + read(log_file));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill_child();
        throw std::runtime_error("the stand-in did not start within 30 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the port file's line is complete
    auto config = k8s::kubeconfig_config(kubeconfig);
    if (!config) {
      kill_child();
      throw std::runtime_error("kubeconfig: " + config.error().message());
    }
    config_ = std::move(config.value());
  }

  ~KubeStandIn() {
    kill_child();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  KubeStandIn(const KubeStandIn&) = delete;
  KubeStandIn& operator=(const KubeStandIn&) = delete;

  const k8s::ClusterConfig& config() const { return config_; }
  void pause() { ::kill(pid_, SIGSTOP); }
  void resume() { ::kill(pid_, SIGCONT); }

 private:
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  void kill_child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);  // works on a stopped process too
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::filesystem::path dir_;
  pid_t pid_ = -1;
  k8s::ClusterConfig config_;
};

// The predecessor's CRDs as a cluster that still runs them has them: apiextensions v1, namespaced, no status
// subresource, schemas that keep unknown fields.
inline nlohmann::json aadpodidentity_crd(const std::string& kind, const std::string& plural) {
  std::string singular = plural.substr(0, plural.size() - (plural.ends_with("ies") ? 3 : 1)) +
                         (plural.ends_with("ies") ? "y" : "");
  nlohmann::json schema = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + ".aadpodidentity.k8s.io"}}},
          {"spec",
           {{"group", "aadpodidentity.k8s.io"},
            {"scope", "Namespaced"},
            {"names", {{"kind", kind}, {"plural", plural}, {"singular", singular}, {"listKind", kind + "List"}}},
            {"versions",
             nlohmann::json::array({{{"name", "v1"},
                                     {"served", true},
                                     {"storage", true},
                                     {"schema", {{"openAPIV3Schema", schema}}}}})}}}};
}

}  // namespace podid::testing
