module closurekeeper

go 1.19
