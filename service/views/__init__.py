"""Presentation: how rows become the JSON bodies and CSV rows of API.md, per area. (The JSON
text of a stored answer, and a redemption's shape, are service.answers: the domain writes
them too.)"""
