"""The HTTP boundary: one retry loop, the translation of httpx failures and error replies
into :mod:`iqm_async.errors`, and the connection limit shared by every request of a client.
"""
