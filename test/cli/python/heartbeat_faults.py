"""A job's lease renewed through a proxy that spoils some renewals, with the client from
docs/gateway.md.

Usage: heartbeat_faults.py PROXY_URL GATEWAY_URL TOKEN. Prints one JSON object.
"""
import json
import sys
import threading
import time

from admission_slots import AdmissionSlots, SlotRefused

proxy_url, gateway_url, token = sys.argv[1], sys.argv[2], sys.argv[3]
errors = []
threading.excepthook = lambda hook: errors.append(repr(hook.exc_value))

# The default timeout (10 s) is well over the lease: a stalled renewal must not wait for it.
worker = AdmissionSlots(proxy_url, token, ttl_seconds=2)
lease = worker.hold(worker.acquire("job-1"))
# The proxy spoils a renewal out of two; the lease outlives each, and the job outlives the lease.
time.sleep(7)
steps = {"lost": lease.lost, "renewals": lease.renewals, "heartbeat_errors": errors}
try:
    AdmissionSlots(gateway_url, token).acquire("job-1")
    steps["still_held"] = False
except SlotRefused as refused:
    steps["still_held"] = refused.status == 409
lease.release()
print(json.dumps(steps))
