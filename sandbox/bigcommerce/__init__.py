"""The BigCommerce stand-in: REST API, store generator and webhook deliveries (see ``sandbox/README.md``)."""

from sandbox.bigcommerce.app import BigCommerceSandbox
from sandbox.bigcommerce.generator import generate

__all__ = ["BigCommerceSandbox", "generate"]
