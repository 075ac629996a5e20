-- The Open Dental tables linker_tui reads, with Open Dental's own table names, column
-- names, types and defaults (MariaDB), cut down to the columns that matter here plus a
-- few neighbours. Sources (see docs/sync.md, "Open Dental"): a schema dump of an Open
-- Dental 24.x demo database on MariaDB 10.11 (appointment, patient, clinic, provider),
-- Open Dental's ConvertDatabases (histappointment) and its TableTypes (DeletedObject,
-- Operatory). Open Dental creates most tables as MyISAM; InnoDB here, so the connector's
-- consistent snapshot is tested too (on MyISAM the reads simply are not a snapshot).
-- Used by tests/test_open_dental.py, scripts/load_open_dental_demo.py and the benchmark.

CREATE TABLE clinic (
  ClinicNum bigint(20) NOT NULL AUTO_INCREMENT,
  Description varchar(255) DEFAULT '',
  Abbr varchar(255) NOT NULL DEFAULT '',
  IsHidden tinyint(4) NOT NULL DEFAULT 0,
  PRIMARY KEY (ClinicNum)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE provider (
  ProvNum bigint(20) NOT NULL AUTO_INCREMENT,
  Abbr varchar(255) DEFAULT '',
  ItemOrder smallint(5) unsigned NOT NULL DEFAULT 0,
  LName varchar(100) DEFAULT '',
  FName varchar(100) DEFAULT '',
  MI varchar(100) DEFAULT '',
  Suffix varchar(100) DEFAULT '',
  IsSecondary tinyint(3) unsigned NOT NULL DEFAULT 0,
  IsHidden tinyint(3) unsigned NOT NULL DEFAULT 0,
  IsNotPerson tinyint(4) NOT NULL DEFAULT 0,
  DateTStamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (ProvNum)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE operatory (
  OperatoryNum bigint(20) NOT NULL AUTO_INCREMENT,
  OpName varchar(255) DEFAULT '',
  Abbrev varchar(255) DEFAULT '',
  ItemOrder smallint(5) unsigned NOT NULL DEFAULT 0,
  IsHidden tinyint(3) unsigned NOT NULL DEFAULT 0,
  ProvDentist bigint(20) NOT NULL DEFAULT 0,
  ProvHygienist bigint(20) NOT NULL DEFAULT 0,
  IsHygiene tinyint(3) unsigned NOT NULL DEFAULT 0,
  ClinicNum bigint(20) NOT NULL DEFAULT 0,
  DateTStamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (OperatoryNum)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE patient (
  PatNum bigint(20) NOT NULL AUTO_INCREMENT,
  LName varchar(100) DEFAULT '',
  FName varchar(100) DEFAULT '',
  MiddleI varchar(100) DEFAULT '',
  Preferred varchar(100) DEFAULT '',
  PatStatus tinyint(3) unsigned NOT NULL DEFAULT 0,
  Gender tinyint(3) unsigned NOT NULL DEFAULT 0,
  Birthdate date NOT NULL DEFAULT '0001-01-01',
  HmPhone varchar(30) DEFAULT '',
  WkPhone varchar(30) DEFAULT '',
  WirelessPhone varchar(30) DEFAULT '',
  Guarantor bigint(20) NOT NULL DEFAULT 0,
  Email varchar(100) DEFAULT '',
  PriProv bigint(20) NOT NULL DEFAULT 0,
  ClinicNum bigint(20) NOT NULL DEFAULT 0,
  DateTStamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (PatNum),
  KEY indexLFName (LName, FName),
  KEY indexGuarantor (Guarantor),
  KEY PatStatus (PatStatus),
  KEY ClinicPatStatus (ClinicNum, PatStatus)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE appointment (
  AptNum bigint(20) NOT NULL AUTO_INCREMENT,
  PatNum bigint(20) NOT NULL,
  AptStatus tinyint(3) unsigned NOT NULL DEFAULT 0,
  Pattern varchar(255) DEFAULT '',
  Confirmed bigint(20) NOT NULL DEFAULT 0,
  TimeLocked tinyint(1) NOT NULL DEFAULT 0,
  Op bigint(20) NOT NULL DEFAULT 0,
  Note text DEFAULT NULL,
  ProvNum bigint(20) NOT NULL DEFAULT 0,
  ProvHyg bigint(20) NOT NULL DEFAULT 0,
  AptDateTime datetime NOT NULL DEFAULT '0001-01-01 00:00:00',
  NextAptNum bigint(20) NOT NULL DEFAULT 0,
  UnschedStatus bigint(20) NOT NULL DEFAULT 0,
  IsNewPatient tinyint(1) unsigned NOT NULL DEFAULT 0,
  ProcDescript text DEFAULT NULL,
  Assistant bigint(20) NOT NULL DEFAULT 0,
  ClinicNum bigint(20) NOT NULL DEFAULT 0,
  IsHygiene tinyint(3) unsigned NOT NULL DEFAULT 0,
  DateTStamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  Priority tinyint(4) NOT NULL DEFAULT 0,
  PRIMARY KEY (AptNum),
  KEY indexPatNum (PatNum),
  KEY indexProvNum (ProvNum),
  KEY indexProvHyg (ProvHyg),
  KEY indexAptDateTime (AptDateTime),
  KEY Op (Op),
  KEY StatusDate (AptStatus, AptDateTime, ClinicNum),
  KEY ClinicNum (ClinicNum),
  KEY DateTStamp (DateTStamp)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE histappointment (
  HistApptNum bigint(20) NOT NULL AUTO_INCREMENT,
  HistUserNum bigint(20) NOT NULL DEFAULT 0,
  HistDateTStamp datetime NOT NULL DEFAULT '0001-01-01 00:00:00',
  HistApptAction tinyint(4) NOT NULL,
  ApptSource tinyint(4) NOT NULL DEFAULT 0,
  AptNum bigint(20) NOT NULL,
  PatNum bigint(20) NOT NULL,
  AptStatus tinyint(4) NOT NULL,
  Pattern varchar(255) NOT NULL DEFAULT '',
  Confirmed bigint(20) NOT NULL DEFAULT 0,
  TimeLocked tinyint(4) NOT NULL DEFAULT 0,
  Op bigint(20) NOT NULL DEFAULT 0,
  Note varchar(255) NOT NULL DEFAULT '',
  ProvNum bigint(20) NOT NULL DEFAULT 0,
  ProvHyg bigint(20) NOT NULL DEFAULT 0,
  AptDateTime datetime NOT NULL DEFAULT '0001-01-01 00:00:00',
  NextAptNum bigint(20) NOT NULL DEFAULT 0,
  UnschedStatus bigint(20) NOT NULL DEFAULT 0,
  IsNewPatient tinyint(4) NOT NULL DEFAULT 0,
  ProcDescript varchar(255) NOT NULL DEFAULT '',
  Assistant bigint(20) NOT NULL DEFAULT 0,
  ClinicNum bigint(20) NOT NULL DEFAULT 0,
  IsHygiene tinyint(4) NOT NULL DEFAULT 0,
  DateTStamp timestamp NOT NULL DEFAULT current_timestamp(),
  PRIMARY KEY (HistApptNum),
  KEY AptNum (AptNum),
  KEY HistDateTStamp (HistDateTStamp)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE deletedobject (
  DeletedObjectNum bigint(20) NOT NULL AUTO_INCREMENT,
  ObjectNum bigint(20) NOT NULL,
  ObjectType tinyint(4) NOT NULL,
  DateTStamp timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  PRIMARY KEY (DeletedObjectNum),
  KEY ObjectNum (ObjectNum)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
