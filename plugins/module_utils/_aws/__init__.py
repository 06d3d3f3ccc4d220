# Private to this collection: the AWS adapter. It translates between boto3 and the core's model; it
# does not decide. Modules reach it only through plugins/module_utils/providers.py.
