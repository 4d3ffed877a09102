# SPDX-License-Identifier: Apache-2.0
"""podid's test cluster on one machine: Azure emulators, a Kubernetes API stand-in, simulated nodes and pods.

These are test oracles, written independently of the product. See tests/harness/README.md.
"""
