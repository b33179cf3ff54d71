"""Local stand-ins of Salesforce and BigCommerce, served over real HTTPS.

See ``sandbox/README.md`` for the command-line contract and the control API.
"""
