module mapkeeper

go 1.19
