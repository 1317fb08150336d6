module valuekeeper

go 1.19
