"""The Salesforce stand-in: ``SalesforceSandbox`` (a WSGI app) and its schema helpers."""

from sandbox.salesforce.app import SalesforceSandbox
from sandbox.salesforce.schema import Field, Schema, SObjectType, schema_build

__all__ = ["Field", "SObjectType", "SalesforceSandbox", "Schema", "schema_build"]
