# Private to this collection: the Azure adapter. It translates between Azure Resource Manager (through the
# Azure SDK for Python: azure-identity, azure-mgmt-compute, azure-mgmt-network) and the core's model; it does
# not decide.
