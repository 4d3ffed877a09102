// SPDX-License-Identifier: Apache-2.0
//
// kubeconfig_config() (podid/k8s/cluster_config.h) on text already read, so that the fuzz targets parse
// without a file per input.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "podid/k8s/cluster_config.h"
#include "podid/result.h"

namespace podid::k8s::detail {

// `path` names the kubeconfig in errors, and relative paths in it (certificate-authority, tokenFile, ...) are
// read relative to its directory.
Result<ClusterConfig> parse_kubeconfig(std::string_view text, const std::filesystem::path& path,
                                       const std::string& context);

}  // namespace podid::k8s::detail
