// SPDX-License-Identifier: Apache-2.0
//
// kubeconfig files (common/k8s/kubeconfig.cpp), from any text, with its current context and with a named one.
// The file is taken to live in a directory that does not exist, so relative paths in it name nothing.
// Input: the file's text.
//
// Properties: a kubeconfig is parsed or refused with an error naming the file, never thrown through; one that
// parses names an http(s) server, and a client certificate comes with its key.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "k8s/kubeconfig.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::filesystem::path path = "/nonexistent/podid-fuzz/kubeconfig";
  for (const char* context : {"", "fuzz"}) {
    auto config = podid::k8s::detail::parse_kubeconfig(text, path, context);
    if (!config) {
      FUZZ_CHECK(config.error().context.find(path.string()) != std::string::npos,
                 "a kubeconfig error that does not name the file");
      continue;
    }
    FUZZ_CHECK(config->server.scheme == "http" || config->server.scheme == "https", "a server that is not http(s)");
    FUZZ_CHECK(config->tls.client_cert_pem.empty() == config->tls.client_key_pem.empty(),
               "a client certificate without its key, or the reverse");
  }
  return 0;
}
