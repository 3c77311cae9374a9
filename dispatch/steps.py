"""dispatch's steps of a case change — clocks, outbox notices, routing, 催办/督办 orders — as ``events`` calls them
(``events.hooks.DispatchSteps``). Registered once by ``DispatchConfig.ready()``."""

from events.hooks import DispatchSteps

from . import clocks, outbox, routing, selectors, supervision


class Steps:
    clocks_for_new_case = staticmethod(clocks.clocks_for_new_case)
    clocks_on_transition = staticmethod(clocks.clocks_on_transition)
    case_clocks = staticmethod(selectors.case_clocks)
    notifications_for_event = staticmethod(outbox.notifications_for_event)
    route = staticmethod(routing.route)
    supervision_order_create = staticmethod(supervision.supervision_order_create)


STEPS: DispatchSteps = Steps()
