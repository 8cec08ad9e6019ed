DROP TABLE handovers;
DROP TABLE allocations;
DROP TABLE stock_movements;
DROP TABLE inventory_packages;
DROP TABLE inventory_items;
DROP TABLE warehouse_staff;
DROP TABLE warehouses;
