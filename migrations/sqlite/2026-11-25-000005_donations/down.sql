DROP TABLE ledger_entries;
DROP TABLE receipts;
DROP TABLE purchases;
DROP TABLE suppliers;
DROP TABLE pledge_instalments;
DROP TABLE pledges;
DROP TABLE campaigns;
DROP TABLE donors;
