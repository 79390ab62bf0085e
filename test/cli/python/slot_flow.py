"""A LiveKit worker's slot flow against a gateway, with the client from docs/gateway.md.

Usage: slot_flow.py URL TOKEN. Prints one JSON object with what each step got.
"""
import json
import sys
import time

from admission_slots import AdmissionSlots, SlotRefused


def refusal(slots, key):
    try:
        slot_id = slots.acquire(key)
    except SlotRefused as refused:
        return {"status": refused.status, "code": refused.code, "retry_after": refused.retry_after}
    slots.release(slot_id)
    return {"status": 201}


url, token = sys.argv[1], sys.argv[2]
first_worker = AdmissionSlots(url, token, ttl_seconds=3)
second_worker = AdmissionSlots(url, token, ttl_seconds=3)
steps = {}

# request_fnc of the first worker takes the job's slot; the same job offered to another
# worker is refused.
slot_id = first_worker.acquire("job-1")
steps["acquired"] = slot_id
steps["same_job_elsewhere"] = refusal(second_worker, "job-1")

# The job runs longer than the lease; the heartbeat keeps the slot.
lease = first_worker.hold(slot_id)
while lease.renewals < 4 and not lease.lost:
    time.sleep(0.05)
steps["renewals"] = lease.renewals
steps["lost"] = lease.lost
steps["still_held_after_lease"] = refusal(second_worker, "job-1")

# A heartbeat the gateway refuses (here a token it does not know) renews nothing.
refused = AdmissionSlots(url, "not-a-known-token-0123", ttl_seconds=0.3).hold(slot_id)
time.sleep(0.5)
refused.release()
steps["refused_renewals"] = refused.renewals

# Another job takes the last slot and keeps it; one more is refused, after waiting in the
# gateway's queue no longer than the client's bound.
other = second_worker.hold(second_worker.acquire("job-2"))
started = time.monotonic()
steps["when_full"] = refusal(second_worker, "job-3")
steps["when_full_after_s"] = time.monotonic() - started
other.release()

# The job's shutdown callback releases the slot: the job id is free again.
lease.release()
steps["after_release"] = refusal(second_worker, "job-1")
print(json.dumps(steps))
