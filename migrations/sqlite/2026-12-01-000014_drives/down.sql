DROP TABLE drive_receipts;
DROP TABLE drives;
