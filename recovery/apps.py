from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    """Cart recovery. Its webhook handlers (recovery.handlers) are imported by sync.handlers.handlers_load()."""

    name = "recovery"
    verbose_name = "Cart recovery"

    def ready(self) -> None:
        from orders.links import cart_opportunities_provide
        from recovery.selectors import carts_opportunities

        # orders sits below recovery and never imports it: an order placed from a cart finds the cart's
        # Opportunity through this lookup (orders.links).
        cart_opportunities_provide(carts_opportunities)
