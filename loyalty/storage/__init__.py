"""The storage layer: how rows are read for a write and how they are written. Only this package
knows it (PostgreSQL statements, COPY, the unit of work, the group commit); the services hand
it rows and read facts from it. It imports only models.

The order path (docs/architecture.md draws it with the apps' layers):

    POST /orders ──► order_input (checks) ──► group (storage.group): orders arriving together
    POST /orders/batch ──► order_input each ─────────────┐            in one transaction
                                                        ▼
    orders_write (services.order_writer), one transaction, one unit of work (storage.unit):
      1. members locked with their referrers, new ones created   storage.members
      2. accounts loaded, one query a fact: tier windows,        storage.accounts
         cap periods' earnings, lots, first orders, push
      3. per order, rules as plain functions                     loyalty.rules
         (earning, caps, pending, bonuses, tier, conversion)
      4. ids reserved under the locks; rows into the unit:       storage.unit
         order, entry, lot, pending, bonuses, tier change,
         coupons, webhooks, notifications
      5. one flush: a table's rows by one INSERT (a few) or      storage.sql
         COPY (many), UPDATE ... FROM VALUES a kind of change;
         hand-offs to the workers after commit

Write modes: inside ``unit_of_work()`` rows wait for the flush (the order path, whatever its
size: one order, a group, a batch); outside it (refunds, grants, jobs) the same calls write
at once. Nothing else chooses.
"""
