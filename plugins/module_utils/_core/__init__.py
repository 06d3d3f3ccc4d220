# Private to this collection: the cloud-neutral core. It imports no cloud SDK and nothing of Ansible,
# so it can be unit-tested without a network. Modules and plugins import it through the public files in
# plugins/module_utils/.
