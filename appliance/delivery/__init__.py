"""Getting events to central and nothing lost: the durable outbox, the pump that moves it to the broker
and applies central's confirmations, and the MQTT link."""
