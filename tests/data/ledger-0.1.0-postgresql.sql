-- The ledger of calendar-service 0.1.0 on PostgreSQL, as its metadata.create_all made it
-- (generated from commit 569730c; tests load it to check upgrades from that release).

CREATE TABLE reminder_ledger (
	id SERIAL NOT NULL, 
	rkey VARCHAR(400) NOT NULL, 
	office_id VARCHAR(100) NOT NULL, 
	day_id VARCHAR(100) NOT NULL, 
	occurrence_date DATE NOT NULL, 
	lead INTEGER NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	scheduled_at TIMESTAMP WITHOUT TIME ZONE, 
	attempts INTEGER NOT NULL, 
	claim_token VARCHAR(64), 
	claimed_at TIMESTAMP WITHOUT TIME ZONE, 
	message_id VARCHAR(200), 
	reply TEXT, 
	refused TEXT, 
	error TEXT, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	updated_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	sent_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_reminder_ledger_key UNIQUE (office_id, day_id, occurrence_date, lead), 
	UNIQUE (rkey)
);
CREATE INDEX ix_reminder_ledger_status ON reminder_ledger (status);

CREATE TABLE reminder_runs (
	id SERIAL NOT NULL, 
	started_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	finished_at TIMESTAMP WITHOUT TIME ZONE, 
	as_of TIMESTAMP WITHOUT TIME ZONE, 
	host VARCHAR(200), 
	pid INTEGER, 
	sent INTEGER NOT NULL, 
	failed INTEGER NOT NULL, 
	pending INTEGER NOT NULL, 
	messages INTEGER NOT NULL, 
	ok BOOLEAN, 
	PRIMARY KEY (id)
);

CREATE TABLE unsubscriptions (
	office_id VARCHAR(100) NOT NULL, 
	unsubscribed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	via VARCHAR(20) NOT NULL, 
	PRIMARY KEY (office_id)
);

