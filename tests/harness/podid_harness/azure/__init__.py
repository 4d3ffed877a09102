# SPDX-License-Identifier: Apache-2.0
"""Emulators of the Azure services podid talks to: IMDS, Entra ID, ARM, Key Vault. See README.md here."""
